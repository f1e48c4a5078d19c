import assert from "node:assert/strict";
import { loadKubeAccess } from "./config.ts";

/** Asserts that `fn` rejects with a message containing `text`. */
async function rejectsWith(fn: () => Promise<unknown>, text: string): Promise<void> {
  await assert.rejects(fn, (err: Error) => {
    assert.ok(err.message.includes(text), `expected "${text}" in: ${err.message}`);
    return true;
  });
}

const CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
const b64 = (text: string) => btoa(text);

/** Runs `fn` with a fresh temp dir, removed afterwards. */
async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kubehook-config-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const KUBECONFIG = `
apiVersion: v1
kind: Config
current-context: runner
contexts:
  - name: runner
    context: { cluster: local, user: runner, namespace: ci }
  - name: other
    context: { cluster: local, user: certs }
  - name: plugin
    context: { cluster: local, user: plugin }
  - name: dangling
    context: { cluster: nowhere, user: runner }
clusters:
  - name: local
    cluster:
      server: https://127.0.0.1:6443/
      certificate-authority-data: ${b64(CA)}
users:
  - name: runner
    user: { token: abc }
  - name: certs
    user: { client-certificate: certs/client.crt, client-key: certs/client.key, tokenFile: tok }
  - name: plugin
    user:
      exec: { apiVersion: client.authentication.k8s.io/v1, command: aws-iam-authenticator }
`;

Deno.test("kubeconfig: current context gives server, CA, token and the context's namespace", async () => {
  await inTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/config`, KUBECONFIG);
    const access = await loadKubeAccess({ KUBECONFIG: `${dir}/config` });
    assert.deepEqual(access, {
      server: "https://127.0.0.1:6443",
      namespace: "ci",
      caPem: CA,
      insecureSkipTlsVerify: undefined,
      source: `kubeconfig ${dir}/config (context runner)`,
      user: "runner",
      certPem: undefined,
      keyPem: undefined,
      token: "abc",
    });
  });
});

Deno.test("kubeconfig: KUBEHOOK_CONTEXT picks a context; relative files resolve beside the file", async () => {
  await inTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/certs`);
    await Deno.writeTextFile(`${dir}/certs/client.crt`, "CERT");
    await Deno.writeTextFile(`${dir}/certs/client.key`, "KEY");
    await Deno.writeTextFile(`${dir}/tok`, "from-file\n");
    await Deno.writeTextFile(`${dir}/config`, KUBECONFIG);
    const access = await loadKubeAccess({
      KUBECONFIG: `${dir}/missing:${dir}/config`,
      KUBEHOOK_CONTEXT: "other",
      KUBEHOOK_SERVICE_ACCOUNT_DIR: `${dir}/no-service-account`,
    });
    assert.deepEqual(
      [access.certPem, access.keyPem, access.token, access.namespace, access.source],
      ["CERT", "KEY", "from-file", "default", `kubeconfig ${dir}/config (context other)`],
    );
  });
});

Deno.test("kubeconfig: a JSON file (as generated ones often are) is read the same", async () => {
  await inTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/config`,
      JSON.stringify({
        "current-context": "c",
        contexts: [{ name: "c", context: { cluster: "k", user: "u" } }],
        clusters: [{ name: "k", cluster: { server: "https://k:6443" } }],
        users: [{ name: "u", user: { token: "json" } }],
      }),
    );
    const access = await loadKubeAccess({ KUBECONFIG: `${dir}/config` });
    assert.deepEqual([access.server, access.token], ["https://k:6443", "json"]);
  });
});

Deno.test("kubeconfig: ACTIONS_RUNNER_KUBERNETES_NAMESPACE wins over the context's namespace", async () => {
  await inTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/config`, KUBECONFIG);
    const access = await loadKubeAccess({
      KUBECONFIG: `${dir}/config`,
      ACTIONS_RUNNER_KUBERNETES_NAMESPACE: "runners",
    });
    assert.deepEqual(access.namespace, "runners");
  });
});

Deno.test("kubeconfig: ~/.kube/config is used when KUBECONFIG is unset", async () => {
  await inTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/.kube`);
    await Deno.writeTextFile(`${dir}/.kube/config`, KUBECONFIG);
    assert.deepEqual((await loadKubeAccess({ HOME: dir })).token, "abc");
  });
});

Deno.test("kubeconfig: errors name the file, the entry and the fix", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/config`;
    await Deno.writeTextFile(path, KUBECONFIG);
    const cases: [Record<string, string>, string][] = [
      [{ KUBEHOOK_CONTEXT: "nope" }, `no context named "nope" (from KUBEHOOK_CONTEXT)`],
      [{ KUBEHOOK_CONTEXT: "plugin" }, "exec plugin (aws-iam-authenticator)"],
      [{ KUBEHOOK_CONTEXT: "dangling" }, `no cluster named "nowhere"`],
    ];
    for (const [env, expected] of cases) {
      await rejectsWith(() => loadKubeAccess({ KUBECONFIG: path, ...env }), expected);
    }
    await rejectsWith(
      () => loadKubeAccess({ KUBECONFIG: path, KUBEHOOK_CONTEXT: "plugin" }),
      "kubectl create token",
    );
  });
});

Deno.test("kubeconfig: broken files are explained", async () => {
  await inTempDir(async (dir) => {
    const path = `${dir}/config`;
    // [file content, context to select ("" = current-context), expected part of the error]
    const cases: [string, string, string][] = [
      ["clusters: [", "", `The kubeconfig ${path} is not valid YAML`],
      ["clusters: []\n", "", `The kubeconfig ${path} has no current-context`],
      [
        KUBECONFIG.replace("server: https://127.0.0.1:6443/", "insecure-skip-tls-verify: true"),
        "",
        `cluster "local" of kubeconfig ${path} (context runner) has no server`,
      ],
      [
        KUBECONFIG.replace(b64(CA), "not-base64!"),
        "",
        'certificate-authority-data of the cluster "local"',
      ],
      [
        KUBECONFIG.replace(/client-certificate.*tokenFile: tok/, "tokenFile: absent"),
        "other",
        `tokenFile file ${dir}/absent of the user "certs"`,
      ],
    ];
    for (const [text, context, expected] of cases) {
      await Deno.writeTextFile(path, text);
      await rejectsWith(
        () => loadKubeAccess({ KUBECONFIG: path, KUBEHOOK_CONTEXT: context }),
        expected,
      );
    }
  });
});

Deno.test("in-cluster: the service account wins when KUBERNETES_SERVICE_HOST is set", async () => {
  await inTempDir(async (dir) => {
    const claims = b64(JSON.stringify({ sub: "system:serviceaccount:ci:runner" }));
    await Deno.writeTextFile(`${dir}/token`, `xx.${claims.replace(/=+$/, "")}.yy\n`);
    await Deno.writeTextFile(`${dir}/ca.crt`, CA);
    await Deno.writeTextFile(`${dir}/namespace`, "ci");
    await Deno.writeTextFile(`${dir}/config`, KUBECONFIG);
    const env = {
      KUBERNETES_SERVICE_HOST: "fd00::1",
      KUBERNETES_SERVICE_PORT: "6443",
      KUBEHOOK_SERVICE_ACCOUNT_DIR: dir,
      KUBECONFIG: `${dir}/config`,
    };
    const access = await loadKubeAccess(env);
    assert.deepEqual(access, {
      server: "https://[fd00::1]:6443",
      namespace: "ci",
      token: `xx.${claims.replace(/=+$/, "")}.yy`,
      caPem: CA,
      source: "in-cluster service account",
      user: "system:serviceaccount:ci:runner",
    });
    await Deno.remove(`${dir}/token`);
    assert.deepEqual(
      (await loadKubeAccess(env)).source,
      `kubeconfig ${dir}/config (context runner)`,
    );
  });
});

Deno.test("no access at all says how to configure it", async () => {
  await inTempDir(async (dir) => {
    await rejectsWith(
      () => loadKubeAccess({ HOME: dir, KUBEHOOK_SERVICE_ACCOUNT_DIR: dir }),
      `no kubeconfig exists at ${dir}/.kube/config`,
    );
  });
});
