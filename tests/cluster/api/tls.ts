/**
 * The cluster's TLS material: a fresh CA and a server certificate it signs for 127.0.0.1 and
 * localhost, made with the `openssl` CLI (EC P-256 keys: about 50 ms in all). Two certificates
 * because rustls (Deno) refuses a self-signed certificate used as both CA and server certificate.
 *
 * @module
 */

/** PEM texts for the CA and the server. */
export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** Runs `openssl` in `cwd`; throws with its error output. */
export async function openssl(args: string[], cwd: string): Promise<void> {
  const output = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output()
    .catch((error) => {
      throw new Error(
        `Cannot generate the local cluster's certificates: openssl could not be run (${error}). ` +
          "Install openssl (apt-get install openssl).",
      );
    });
  if (!output.success) {
    throw new Error(
      `Cannot generate the local cluster's certificates: openssl ${args[0]} failed: ` +
        new TextDecoder().decode(output.stderr).trim(),
    );
  }
}

/** EC P-256 key options of `openssl req`. */
const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/** Makes a CA (`ca.crt`, `ca.key`) in `dir`. */
export async function generateCa(dir: string, name: string): Promise<void> {
  await openssl(
    ["req", "-x509", ...EC_KEY, "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650"]
      .concat(["-subj", `/CN=${name}`]),
    dir,
  );
}

/** What a certificate the CA in `dir` signs is for. */
export interface CertificateRequest {
  /** File names `<file>.crt` and `<file>.key`. */
  file: string;
  subject: string;
  /** subjectAltName entries, e.g. `IP:127.0.0.1`, `DNS:localhost`. */
  sans?: string[];
  usage: "serverAuth" | "clientAuth";
}

/** Signs a certificate with the CA in `dir`. */
export async function generateCertificate(dir: string, request: CertificateRequest) {
  await openssl(
    ["req", "-x509", ...EC_KEY, "-keyout", `${request.file}.key`, "-out", `${request.file}.crt`]
      .concat(["-days", "3650", "-subj", request.subject, "-CA", "ca.crt", "-CAkey", "ca.key"])
      .concat(request.sans ? ["-addext", `subjectAltName=${request.sans.join(",")}`] : [])
      .concat(["-addext", "basicConstraints=critical,CA:FALSE"])
      .concat(["-addext", `extendedKeyUsage=${request.usage}`]),
    dir,
  );
}

/** Generates the CA and server certificate in `dir` (which must exist) and reads them back. */
export async function generateTls(dir: string): Promise<TlsMaterial> {
  await generateCa(dir, "kubehook-local-ca");
  await generateCertificate(dir, {
    file: "server",
    subject: "/CN=kubehook-local-apiserver",
    sans: ["IP:127.0.0.1", "DNS:localhost"],
    usage: "serverAuth",
  });
  const [caPem, certPem, keyPem] = await Promise.all(
    ["ca.crt", "server.crt", "server.key"].map((f) => Deno.readTextFile(`${dir}/${f}`)),
  );
  return { caPem, certPem, keyPem };
}
