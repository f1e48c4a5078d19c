import assert from "node:assert/strict";
import {
  DEFAULT_BUILDER_IMAGE,
  readEverySetting,
  readSettings,
  SETTINGS,
  SettingsError,
  settingsHelp,
  settingsMarkdown,
} from "./settings.ts";

Deno.test("defaults apply when only the runner pod name is set", () => {
  const s = readSettings({ ACTIONS_RUNNER_POD_NAME: "arc-x" });
  assert.deepEqual(s, {
    runnerPodName: "arc-x",
    namespace: undefined,
    claimName: "arc-x-work",
    templatePath: undefined,
    prepareJobTimeoutSeconds: 600,
    useKubeScheduler: false,
    runnerImage: "ghcr.io/actions/actions-runner:latest",
    heartbeatPeriodMs: 5000,
    heartbeatDeadlineMs: 61000,
    workspace: "copy",
    copyBack: "changed",
    compression: "auto",
    debug: false,
    maxCpu: undefined,
    maxMemory: undefined,
    allowPrivileged: false,
    podSecurity: "auto",
    runAsUser: { uid: 1001, gid: 1001 },
    registry: undefined,
    builderImage: DEFAULT_BUILDER_IMAGE,
    builderArgs: [],
  });
});

Deno.test("KUBEHOOK_BUILDER_ARGS: flags only, not those kubehook sets for each build", () => {
  const args = (value: string) =>
    readSettings({ ACTIONS_RUNNER_POD_NAME: "r", KUBEHOOK_BUILDER_ARGS: value }).builderArgs;
  assert.deepEqual(args("  --registry-mirror=m.example:5000   --cache=true -v=debug "), [
    "--registry-mirror=m.example:5000",
    "--cache=true",
    "-v=debug",
  ]);
  assert.throws(() => args("--cache true"), /KUBEHOOK_BUILDER_ARGS="true".*value goes after =/);
  for (const own of ["--destination=x/y:1", "--context=dir:///", "-f=Other", "--dockerfile"]) {
    assert.throws(() => args(own), /KUBEHOOK_BUILDER_ARGS=.*kubehook sets for each build/, own);
  }
});

Deno.test("the build registry: one host for both sides, or push and pull apart", () => {
  const registry = (env: Record<string, string>) =>
    readSettings({ ACTIONS_RUNNER_POD_NAME: "r", ...env }).registry;
  const host = "ACTIONS_RUNNER_CONTAINER_HOOKS_K8S_REGISTRY_HOST";
  const secret = { ACTIONS_RUNNER_CONTAINER_HOOKS_K8S_REGISTRY_SECRET_NAME: "regcred" };
  assert.deepEqual(registry({ [host]: "ghcr.io/org/", ...secret }), {
    push: "ghcr.io/org",
    pull: "ghcr.io/org",
    secretName: "regcred",
    insecure: false,
  });
  assert.deepEqual(
    registry({
      [host]: "ignored.example",
      [`${host}_PUSH`]: "registry.ci.svc:5000/team",
      [`${host}_PULL`]: "localhost:30500/team",
      KUBEHOOK_REGISTRY_INSECURE: "true",
      ...secret,
    }),
    {
      push: "registry.ci.svc:5000/team",
      pull: "localhost:30500/team",
      secretName: "regcred",
      insecure: true,
    },
  );
  // Half a setup is no setup: the Dockerfile step says what is missing.
  assert.equal(registry({ [host]: "ghcr.io/org" }), undefined);
  assert.equal(registry(secret), undefined);
  for (const bad of ["https://ghcr.io/org", "ghcr.io/Org", "ghcr.io:x", "a b"]) {
    assert.throws(() => registry({ [host]: bad, ...secret }), (e: SettingsError) => {
      assert.equal(e.variable, host);
      assert.match(e.message, /without|no scheme/);
      return true;
    });
  }
});

Deno.test("KUBEHOOK_RUN_AS_USER takes a non-root uid[:gid] only", () => {
  const user = (value: string) =>
    readSettings({ ACTIONS_RUNNER_POD_NAME: "r", KUBEHOOK_RUN_AS_USER: value }).runAsUser;
  assert.deepEqual(user("2000"), { uid: 2000, gid: 2000 });
  assert.deepEqual(user("2000:3000"), { uid: 2000, gid: 3000 });
  for (const bad of ["0", "0:0", "runner", "1001:x", "-5"]) {
    assert.throws(() => user(bad), /KUBEHOOK_RUN_AS_USER=.*a non-root uid/, bad);
  }
});

Deno.test("the runner pod name is required and the error says how to set it", () => {
  assert.throws(() => readSettings({}), SettingsError);
  assert.throws(
    () => readSettings({ ACTIONS_RUNNER_POD_NAME: "  " }),
    /ACTIONS_RUNNER_POD_NAME is not set.*fieldRef/,
  );
});

Deno.test("values are parsed and the deadline follows the period", () => {
  const s = readSettings({
    ACTIONS_RUNNER_POD_NAME: "p",
    ACTIONS_RUNNER_KUBERNETES_NAMESPACE: "ci",
    ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS: "30",
    ACTIONS_RUNNER_USE_KUBE_SCHEDULER: "TRUE",
    ACTIONS_RUNNER_HEARTBEAT_PERIOD_MS: "1000",
    KUBEHOOK_COPY_BACK: "none",
    KUBEHOOK_TRANSFER_COMPRESSION: "gzip",
    RUNNER_DEBUG: "1",
  });
  assert.equal(s.namespace, "ci");
  assert.equal(s.prepareJobTimeoutSeconds, 30);
  assert.equal(s.useKubeScheduler, true);
  assert.equal(s.heartbeatDeadlineMs, 13000);
  assert.equal(s.copyBack, "none");
  assert.equal(s.compression, "gzip");
  assert.equal(s.debug, true);
});

Deno.test("an explicit claim name turns on volume mode unless KUBEHOOK_WORKSPACE says copy", () => {
  const env = { ACTIONS_RUNNER_POD_NAME: "p", ACTIONS_RUNNER_CLAIM_NAME: "work-pvc" };
  assert.equal(readSettings(env).workspace, "volume");
  assert.equal(readSettings(env).claimName, "work-pvc");
  assert.equal(readSettings({ ...env, KUBEHOOK_WORKSPACE: "copy" }).workspace, "copy");
  assert.equal(
    readSettings({ ACTIONS_RUNNER_POD_NAME: "p", KUBEHOOK_WORKSPACE: "volume" }).claimName,
    "p-work",
  );
});

Deno.test("invalid values name the variable, the value and the accepted values", () => {
  const cases: [string, string, RegExp][] = [
    ["KUBEHOOK_WORKSPACE", "shared", /KUBEHOOK_WORKSPACE="shared" is not valid: use copy, volume/],
    ["KUBEHOOK_COPY_BACK", "some", /use changed, all, none/],
    [
      "ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS",
      "10m",
      /"10m" is not valid: use a positive integer/,
    ],
    ["ACTIONS_RUNNER_HEARTBEAT_PERIOD_MS", "0", /use a positive integer/],
    ["ACTIONS_RUNNER_USE_KUBE_SCHEDULER", "yes please", /use true or false/],
    [
      "KUBEHOOK_MAX_CPU",
      "two",
      /KUBEHOOK_MAX_CPU="two" is not valid: use a CPU quantity such as 2/,
    ],
    ["KUBEHOOK_MAX_MEMORY", "4g", /use a memory quantity such as 4Gi or 512Mi/],
  ];
  for (const [name, value, message] of cases) {
    assert.throws(() => readSettings({ ACTIONS_RUNNER_POD_NAME: "p", [name]: value }), message);
  }
  assert.throws(
    () => readSettings({ ACTIONS_RUNNER_POD_NAME: "p", KUBEHOOK_WORKSPACE: "x" }),
    (e: unknown) => e instanceof SettingsError && e.variable === "KUBEHOOK_WORKSPACE",
  );
});

Deno.test("the table documents every variable readSettings reads", async () => {
  const source = await Deno.readTextFile(new URL("./settings.ts", import.meta.url));
  const read = new Set([...source.matchAll(/\(env, "([A-Z_]+)"/g)].map((m) => m[1]));
  const documented = new Set(SETTINGS.map((s) => s.name));
  for (const name of read) {
    if (name !== "ACTIONS_STEP_DEBUG") {
      assert.ok(documented.has(name), `${name} is read but not documented`);
    }
  }
  assert.match(settingsMarkdown(), /^\| variable \| default \| values \| meaning \|\n\|---/);
  assert.equal(settingsMarkdown().split("\n").length, SETTINGS.length + 2);
  for (const s of SETTINGS) assert.ok(settingsHelp().includes(`  ${s.name}\n`));
});

Deno.test("readEverySetting names every unusable variable and reads the rest", () => {
  const { settings, problems } = readEverySetting({
    ACTIONS_RUNNER_POD_NAME: "r",
    ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS: "abc",
    KUBEHOOK_COPY_BACK: "some",
    KUBEHOOK_MAX_CPU: "2",
  });
  assert.deepEqual(problems.map((p) => p.variable).sort(), [
    "ACTIONS_RUNNER_PREPARE_JOB_TIMEOUT_SECONDS",
    "KUBEHOOK_COPY_BACK",
  ]);
  assert.equal(settings?.prepareJobTimeoutSeconds, 600);
  assert.equal(settings?.maxCpu, "2");
  assert.deepEqual(readEverySetting({}).problems.map((p) => p.variable), [
    "ACTIONS_RUNNER_POD_NAME",
  ]);
});
