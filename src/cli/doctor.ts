/**
 * `kubehook doctor`: checks, against the cluster and namespace the hooks would use (same settings
 * and kubeconfig loading), everything a job needs — the API server answers, the namespace exists,
 * every RBAC permission is held (one SelfSubjectAccessReview each), the runner pod is found, the pod
 * template parses and merges — and prints a table with the fix for each problem. Exits 1 when
 * something would fail a job, so it can gate a runner image's smoke test.
 *
 * @module
 */
import type { KubeAccess } from "../kube/config.ts";
import { containerOf } from "../runner/input.ts";
import { readEverySetting, type Settings } from "../runner/settings.ts";
import { checkApi, checkNamespace, checkPermissions, checkRunnerPod } from "./cluster_checks.ts";
import { planJobObjects, workspacePathOutsideRunner } from "../pod/job_plan.ts";
import { type CheckRow, formatTable } from "./table.ts";

const HELP = `Usage: kubehook doctor

Checks what a job needs, against the cluster and namespace the hooks would use (the same
environment and kubeconfig: in-cluster service account, else KUBECONFIG or ~/.kube/config, context
KUBEHOOK_CONTEXT or the current one; namespace ACTIONS_RUNNER_KUBERNETES_NAMESPACE or the
context's), and prints a table with a fix for each problem:

  settings         every kubehook variable holds a usable value
  API server       reachable, with the credentials of the configuration
  namespace        exists (reported as skipped when the credentials may not read namespaces)
  RBAC <resource>  every permission kubehook needs, one access review each
  runner pod       ACTIONS_RUNNER_POD_NAME names a pod in the namespace
  pod template     ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE parses and merges into a job pod
  externals image  ACTIONS_RUNNER_IMAGE, shown (doctor does not pull images)

Run it where the runner runs (e.g. kubectl exec into a runner pod) to check the runner's own
service account. Exit codes: 0 no check failed, 1 something would fail a job, 2 wrong arguments.
`;

/** Retries kept short: doctor reports an unreachable server instead of waiting on it. */
const DOCTOR_RETRY = { attempts: 2, budgetMs: 3_000 };

/** Runs `kubehook doctor`; resolves with the exit code. */
export async function doctor(rest: string[]): Promise<number> {
  // Imported where used, not at the top: see src/main.ts.
  const { parseArgs } = await import("node:util");
  try {
    const { values } = parseArgs({
      args: rest,
      options: { help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
  } catch (error) {
    console.error(`kubehook doctor: ${(error as Error).message.replace(/\.?$/, ".")}\n\n${HELP}`);
    return 2;
  }
  const env = Deno.env.toObject();
  const runnerPodName = env.ACTIONS_RUNNER_POD_NAME?.trim() || undefined;
  const settings = checkSettings(env, runnerPodName);
  const rows: CheckRow[] = [
    settings.row,
    ...await clusterChecks(env, settings.value, runnerPodName),
    ...await localChecks(settings.value),
  ];
  console.log(formatTable(rows));
  const failed = rows.filter((r) => r.result === "FAIL").length;
  const warned = rows.filter((r) => r.result === "warn").length;
  const warnings = warned ? ` (${warned} warning${warned > 1 ? "s" : ""})` : "";
  console.log(
    failed
      ? `\n${failed} check${failed > 1 ? "s" : ""} failed${warnings}: jobs would fail until ` +
        "the fixes above are applied."
      : `\nNo check failed${warnings}.`,
  );
  return failed ? 1 : 0;
}

/** Reads the settings as the hook does, naming every variable it cannot use; the others are
 * still used for the checks that follow. A missing runner pod name is reported by the runner pod
 * check, so a stand-in lets the other settings be checked from outside a runner pod. */
function checkSettings(
  env: Record<string, string>,
  runnerPodName: string | undefined,
): { row: CheckRow; value?: Settings } {
  const { settings, problems } = readEverySetting({
    ...env,
    ACTIONS_RUNNER_POD_NAME: runnerPodName ?? "runner",
  });
  if (problems.length > 0) {
    const detail = problems.map((p) => p.message).join("\n");
    return { row: { check: "settings", result: "FAIL", detail }, value: settings };
  }
  const value = settings!;
  const workspace = value.workspace === "copy"
    ? "copy"
    : `volume (PVC ${value.claimName}, ${
      value.useKubeScheduler ? "placed by the scheduler" : "on the runner pod's node"
    })`;
  const detail = `workspace ${workspace}, copy-back ${value.copyBack}, compression ` +
    `${value.compression}, prepare_job timeout ${value.prepareJobTimeoutSeconds} s\n` +
    `options may ask for up to ${value.maxCpu ?? "any"} CPU (KUBEHOOK_MAX_CPU) and ` +
    `${value.maxMemory ?? "any"} memory (KUBEHOOK_MAX_MEMORY); --privileged and --cap-add ` +
    `${value.allowPrivileged ? "allowed" : "refused"} (KUBEHOOK_ALLOW_PRIVILEGED)`;
  return { row: { check: "settings", result: "ok", detail }, value };
}

/** The checks that need the cluster, made with the hook's own way of finding it. */
async function clusterChecks(
  env: Record<string, string>,
  settings: Settings | undefined,
  runnerPodName: string | undefined,
): Promise<CheckRow[]> {
  const [{ loadKubeAccess }, { KubeClient }] = await Promise.all([
    import("../kube/config.ts"),
    import("../kube/client.ts"),
  ]);
  let access: KubeAccess;
  try {
    access = await loadKubeAccess(env);
  } catch (error) {
    return [{ check: "API server", result: "FAIL", detail: (error as Error).message }];
  }
  const client = new KubeClient(access, { retry: DOCTOR_RETRY });
  try {
    const namespace = settings?.namespace ?? access.namespace;
    const api = await checkApi(client);
    if (!api.usable) {
      return [api.row, { check: "cluster checks", result: "skip", detail: "API server unusable" }];
    }
    return [
      api.row,
      await checkNamespace(client, namespace, settings?.podSecurity),
      ...await checkPermissions(client, namespace, api.user),
      await checkRunnerPod(client, namespace, runnerPodName, settings),
      ...(settings
        ? await (await import("./build_checks.ts")).checkBuilds(
          client,
          namespace,
          api.user,
          settings,
        )
        : []),
    ];
  } finally {
    client.close();
  }
}

/** The checks that need no cluster: the template and the externals image. */
async function localChecks(settings: Settings | undefined): Promise<CheckRow[]> {
  if (!settings) return [{ check: "pod template", result: "skip", detail: "settings invalid" }];
  return [
    await checkTemplate(settings),
    {
      check: "externals image",
      result: "info",
      detail:
        `${settings.runnerImage} (ACTIONS_RUNNER_IMAGE)\nthe job pod's container "externals" ` +
        "copies /home/runner/externals from it; doctor does not pull it",
    },
  ];
}

/** Parses the template and merges it into a job pod with a job container and one service for
 * each `$<service>` entry, so every entry is tried. */
async function checkTemplate(settings: Settings): Promise<CheckRow> {
  const check = "pod template";
  const path = settings.templatePath;
  if (!path) {
    return { check, result: "info", detail: "none (ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE unset)" };
  }
  try {
    const { loadPodTemplate } = await import("../pod/template.ts");
    const services = (await loadPodTemplate(path)).containers
      .map(({ value }) => value.name)
      .filter((name) => name.startsWith("$") && name !== "$job")
      .map((name) => containerOf(name.slice(1)));
    // Copy mode: the template check must not depend on where a volume-mode pod would be placed.
    const plan = await planJobObjects(
      { container: containerOf("busybox"), services },
      { ...settings, workspace: "copy" },
      undefined,
      workspacePathOutsideRunner(null),
    );
    const containers = plan.pod.spec?.containers.map((c) => c.name).join(", ");
    const merged = `${path} parses and merges (containers: ${containers})`;
    if (plan.warnings.length === 0) return { check, result: "ok", detail: merged };
    return { check, result: "warn", detail: [merged, ...plan.warnings].join("\n") };
  } catch (error) {
    return { check, result: "FAIL", detail: (error as Error).message };
  }
}
