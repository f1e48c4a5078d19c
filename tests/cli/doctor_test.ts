/**
 * `kubehook doctor` as a user runs it, against the local cluster with each of its kubeconfig
 * contexts (selected with KUBEHOOK_CONTEXT): `admin` and `runner` hold everything kubehook needs,
 * `restricted` lacks pods/exec and must get a failing exit code with the Role rule to add;
 * with Dockerfile builds set up, `builder` passes and the registry secret, its type, its
 * credential and the rules builds add are each checked.
 */
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { startTestCluster } from "../cluster/harness.ts";
import { type CliResult, REPO_ROOT, runKubehook } from "./cli_process.ts";

const TEMPLATE = `${REPO_ROOT}tests/cli/fixtures/template.yaml`;
const PERMISSION_ROWS = ["pods", "pods/exec", "pods/log", "secrets", "events"]
  .map((r) => `RBAC ${r}`);

/** The table rows by check name: result and the lines of detail and fix below it. */
function tableOf(stdout: string): Map<string, { result: string; text: string }> {
  const lines = stdout.split("\n");
  const header = lines[0];
  const resultColumn = header.indexOf("RESULT");
  const textColumn = header.indexOf("DETAIL");
  assert.ok(resultColumn > 0 && textColumn > resultColumn, `no table header in:\n${stdout}`);
  const rows = new Map<string, { result: string; text: string }>();
  let current: { result: string; text: string } | undefined;
  for (const line of lines.slice(1)) {
    if (line.trim() === "") break;
    const check = line.slice(0, resultColumn).trim();
    if (check) {
      current = { result: line.slice(resultColumn, textColumn).trim(), text: "" };
      rows.set(check, current);
    }
    current!.text += line.slice(textColumn) + "\n";
  }
  return rows;
}

function resultOf(rows: ReturnType<typeof tableOf>, check: string): string {
  const row = rows.get(check);
  assert.ok(row, `doctor printed no "${check}" row (rows: ${[...rows.keys()].join(", ")})`);
  return row.result;
}

Deno.test("doctor against the local cluster", async (t) => {
  await using cluster = await startTestCluster();
  const doctor = (env: Record<string, string>): Promise<CliResult> =>
    runKubehook(["doctor"], { KUBECONFIG: cluster.kubeconfigPath, ...env });

  const runnerPod: V1Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "runner-0" },
    spec: { containers: [{ name: "runner", image: "busybox", command: ["sleep", "3600"] }] },
  };
  const created = await cluster.fetch("/api/v1/namespaces/default/pods", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(runnerPod),
  });
  assert.equal(created.status, 201, await created.text());

  await t.step("admin, with runner pod and template: every check passes", async () => {
    const { code, stdout, stderr } = await doctor({
      KUBEHOOK_CONTEXT: "admin",
      ACTIONS_RUNNER_POD_NAME: "runner-0",
      ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE: TEMPLATE,
    });
    assert.equal(code, 0, `doctor failed:\n${stdout}${stderr}`);
    const rows = tableOf(stdout);
    for (const check of ["settings", "API server", 'namespace "default"', ...PERMISSION_ROWS]) {
      assert.equal(resultOf(rows, check), "ok", `${check}:\n${stdout}`);
    }
    assert.equal(resultOf(rows, "runner pod"), "ok");
    assert.match(rows.get("runner pod")!.text, /pod "runner-0" found/);
    assert.equal(resultOf(rows, "pod template"), "ok", stdout);
    assert.match(
      rows.get("pod template")!.text,
      /containers: job, redis, mysql, externals, statsd/,
    );
    assert.match(rows.get("externals image")!.text, /ghcr\.io\/actions\/actions-runner:latest/);
    assert.match(rows.get("API server")!.text, new RegExp(cluster.url.replaceAll(".", "\\.")));
    assert.match(stdout, /No check failed\./);
  });

  await t.step("runner: every permission is held", async () => {
    const { code, stdout } = await doctor({ KUBEHOOK_CONTEXT: "runner" });
    assert.equal(code, 0, stdout);
    const rows = tableOf(stdout);
    for (const check of PERMISSION_ROWS) assert.equal(resultOf(rows, check), "ok", stdout);
    // The runner's Role may not read namespaces: that is reported, not failed.
    assert.equal(resultOf(rows, 'namespace "default"'), "skip");
    // Without ACTIONS_RUNNER_POD_NAME there is no runner pod to look for.
    assert.equal(resultOf(rows, "runner pod"), "warn");
    assert.match(
      rows.get("API server")!.text,
      /as "system:serviceaccount:default:kubehook-runner"/,
    );
  });

  await t.step("restricted: pods/exec is missing, the fix is the Role rule", async () => {
    const { code, stdout } = await doctor({ KUBEHOOK_CONTEXT: "restricted" });
    assert.equal(code, 1, stdout);
    const rows = tableOf(stdout);
    assert.equal(resultOf(rows, "RBAC pods/exec"), "FAIL");
    const text = rows.get("RBAC pods/exec")!.text;
    assert.match(text, /missing get, create in namespace "default"/);
    assert.match(text, /Role bound to "system:serviceaccount:default:kubehook-restricted"/);
    assert.match(
      text,
      /- apiGroups: \[""\]\n\s+resources: \["pods\/exec"\]\n\s+verbs: \["get", "create"\]/,
    );
    for (const check of PERMISSION_ROWS.filter((c) => c !== "RBAC pods/exec")) {
      assert.equal(resultOf(rows, check), "ok", stdout);
    }
    assert.match(stdout, /1 check failed/);
  });

  await t.step("a namespace that does not exist fails with the command to create it", async () => {
    const { code, stdout } = await doctor({
      KUBEHOOK_CONTEXT: "admin",
      ACTIONS_RUNNER_KUBERNETES_NAMESPACE: "absent",
    });
    assert.equal(code, 1, stdout);
    const rows = tableOf(stdout);
    assert.equal(resultOf(rows, 'namespace "absent"'), "FAIL");
    assert.match(rows.get('namespace "absent"')!.text, /kubectl create namespace absent/);
  });

  await t.step("every unusable setting is named, and the template is still checked", async () => {
    const { code, stdout } = await doctor({
      KUBEHOOK_CONTEXT: "admin",
      ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS: "abc",
      KUBEHOOK_COPY_BACK: "some",
      ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE: TEMPLATE,
    });
    assert.equal(code, 1, stdout);
    const rows = tableOf(stdout);
    assert.equal(resultOf(rows, "settings"), "FAIL");
    assert.match(rows.get("settings")!.text, /ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS="abc"/);
    assert.match(rows.get("settings")!.text, /KUBEHOOK_COPY_BACK="some"/);
    assert.equal(resultOf(rows, "pod template"), "ok", rows.get("pod template")?.text);
  });

  await t.step(
    "the namespace's Pod Security standard against the one pods are made for",
    async () => {
      const label = async (value: string | null) => {
        const response = await cluster.fetch("/api/v1/namespaces/default", {
          method: "PATCH",
          headers: { "content-type": "application/merge-patch+json" },
          body: JSON.stringify({
            metadata: { labels: { "pod-security.kubernetes.io/enforce": value } },
          }),
        });
        assert.ok(response.ok, await response.text());
      };
      await label("restricted");
      try {
        const auto = tableOf((await doctor({ KUBEHOOK_CONTEXT: "admin" })).stdout);
        assert.match(
          auto.get('namespace "default"')!.text,
          /Pod Security enforced: restricted, kubehook makes pods for "restricted"/,
        );
        const { code, stdout } = await doctor({
          KUBEHOOK_CONTEXT: "admin",
          KUBEHOOK_POD_SECURITY: "baseline",
        });
        assert.equal(code, 1, stdout);
        const rows = tableOf(stdout);
        assert.equal(resultOf(rows, 'namespace "default"'), "FAIL");
        assert.match(rows.get('namespace "default"')!.text, /Set KUBEHOOK_POD_SECURITY=restricted/);
      } finally {
        await label(null);
      }
    },
  );
  await t.step("Dockerfile builds: the secret, its type, the registry and the rules", async () => {
    const { registry } = cluster;
    const secrets = "/api/v1/namespaces/default/secrets";
    const putSecret = async (type: string, password: string) => {
      await cluster.fetch(`${secrets}/registry-push`, { method: "DELETE" }).then((r) => r.text());
      const auth = btoa(`${registry.username}:${password}`);
      const config = { auths: { [registry.host]: { auth } } };
      const response = await cluster.fetch(secrets, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          metadata: { name: "registry-push" },
          type,
          data: {
            [type === "Opaque" ? "config" : ".dockerconfigjson"]: btoa(JSON.stringify(config)),
          },
        }),
      });
      assert.equal(response.status, 201, await response.text());
    };
    const builds = (context: string) =>
      doctor({
        KUBEHOOK_CONTEXT: context,
        ACTIONS_RUNNER_CONTAINER_HOOKS_K8S_REGISTRY_HOST: `${registry.host}/ci`,
        ACTIONS_RUNNER_CONTAINER_HOOKS_K8S_REGISTRY_SECRET_NAME: "registry-push",
        KUBEHOOK_REGISTRY_INSECURE: "true",
        http_proxy: registry.proxyUrl,
      });
    const row = async (context: string) => {
      const { code, stdout } = await builds(context);
      return {
        code,
        stdout,
        rows: tableOf(stdout),
        build: tableOf(stdout).get("Dockerfile builds"),
      };
    };
    try {
      await putSecret("kubernetes.io/dockerconfigjson", registry.password);
      const good = await row("builder");
      assert.equal(good.code, 0, good.stdout);
      assert.equal(good.build?.result, "ok", good.stdout);
      assert.match(good.build!.text, /\/v2\/ answers here with the credential of/);
      assert.equal(resultOf(good.rows, "RBAC pods/attach"), "ok");
      assert.equal(resultOf(good.rows, "RBAC secrets registry-push"), "ok");

      // The runner's Role without the commented block: each rule to add is shown.
      const runner = await row("runner");
      assert.equal(runner.code, 1, runner.stdout);
      assert.equal(resultOf(runner.rows, "RBAC pods/attach"), "FAIL");
      assert.match(
        runner.rows.get("RBAC secrets registry-push")!.text,
        /resourceNames: \["registry-push"\]/,
      );

      await putSecret("kubernetes.io/dockerconfigjson", "wrong-password");
      const denied = await row("builder");
      assert.equal(denied.code, 1, denied.stdout);
      assert.equal(denied.build?.result, "FAIL", denied.stdout);
      assert.match(denied.build!.text, /401|UNAUTHORIZED|unauthorized/);

      await putSecret("Opaque", registry.password);
      const opaque = await row("builder");
      assert.equal(opaque.build?.result, "FAIL", opaque.stdout);
      assert.match(opaque.build!.text, /kubernetes\.io\/dockerconfigjson/);
    } finally {
      await cluster.fetch(`${secrets}/registry-push`, { method: "DELETE" }).then((r) => r.text());
    }
    const missing = await row("builder");
    assert.equal(missing.build?.result, "FAIL", missing.stdout);
    assert.match(missing.build!.text, /registry-push/);
  });
});
