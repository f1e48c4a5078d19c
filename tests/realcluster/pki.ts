/**
 * The real tier's credentials, made fresh for every cluster with `openssl`: a CA; the API
 * server's serving certificate (the node's IP, 127.0.0.1 and the `kubernetes` service names);
 * the client certificate the API server shows kubelets; the front proxy's serving certificate on
 * 127.0.0.1; the service-account signing key pair; and a static token per component (the
 * `admin` context among them, in `system:masters`).
 *
 * @module
 */
import { generateCa, generateCertificate, openssl } from "../cluster/api/tls.ts";

/** Static tokens, by who holds them. */
export interface Tokens {
  admin: string;
  node: string;
  controllerManager: string;
  scheduler: string;
}

/** What the cluster is started with. */
export interface Pki {
  dir: string;
  caPem: string;
  tokens: Tokens;
}

/** The node's name (the kubelet's identity is `system:node:<name>`). */
export const NODE_NAME = "kubehook-node";

function token(): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(16)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

/** Generates everything in `dir` (which must exist). */
export async function generatePki(dir: string, nodeIP: string): Promise<Pki> {
  await generateCa(dir, "kubehook-real-ca");
  await generateCertificate(dir, {
    file: "apiserver",
    subject: "/CN=kube-apiserver",
    sans: [
      `IP:${nodeIP}`,
      "IP:127.0.0.1",
      "IP:10.96.0.1",
      "DNS:localhost",
      "DNS:kubernetes",
      "DNS:kubernetes.default",
      "DNS:kubernetes.default.svc",
      "DNS:kubernetes.default.svc.cluster.local",
    ],
    usage: "serverAuth",
  });
  await generateCertificate(dir, {
    file: "kubelet-client",
    subject: "/CN=kube-apiserver-kubelet-client",
    usage: "clientAuth",
  });
  await generateCertificate(dir, {
    file: "front",
    subject: "/CN=kubehook-real-front",
    sans: ["IP:127.0.0.1", "DNS:localhost"],
    usage: "serverAuth",
  });
  await openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "sa.key"], dir);
  await openssl(["ec", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);
  const tokens: Tokens = {
    admin: token(),
    node: token(),
    controllerManager: token(),
    scheduler: token(),
  };
  await Deno.writeTextFile(
    `${dir}/tokens.csv`,
    [
      `${tokens.admin},kubehook-admin,kubehook-admin,"system:masters"`,
      `${tokens.node},system:node:${NODE_NAME},system:node:${NODE_NAME},"system:nodes"`,
      `${tokens.controllerManager},system:kube-controller-manager,system:kube-controller-manager`,
      `${tokens.scheduler},system:kube-scheduler,system:kube-scheduler`,
    ].join("\n") + "\n",
    { mode: 0o600 },
  );
  return { dir, caPem: await Deno.readTextFile(`${dir}/ca.crt`), tokens };
}
