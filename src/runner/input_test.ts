import assert from "node:assert/strict";
import { InputError, parseInvocation } from "./input.ts";

const container = {
  image: "node:20",
  dockerfile: null,
  entryPoint: null,
  entryPointArgs: [],
  workingDirectory: "/__w/repo/repo",
  createOptions: "--cpus 1",
  registry: { username: "u", password: "p", serverUrl: "ghcr.io" },
  environmentVariables: { HOME: "/github/home", FOO: "x" },
  portMappings: ["8080:80"],
  systemMountVolumes: [{ sourceVolumePath: "/a", targetVolumePath: "/b", readOnly: false }],
  userMountVolumes: [],
  someFutureField: { ignored: true },
};

function invocation(command: string, args: unknown, state: unknown = null): string {
  return JSON.stringify({
    command,
    responseFile: "/w/_temp/_runner_hook_responses/g.json",
    args,
    state,
  });
}

Deno.test("prepare_job: container and services are typed, nulls become empty", () => {
  const service = {
    ...container,
    image: "redis:7",
    registry: null,
    entryPointArgs: null,
    portMappings: null,
  };
  const anonymous = { ...service, registry: { username: null, password: null, serverUrl: null } };
  const inv = parseInvocation(
    invocation("prepare_job", { container, services: [service, anonymous] }),
  );
  assert.equal(inv.command, "prepare_job");
  if (inv.command !== "prepare_job") return;
  assert.equal(inv.state, null);
  assert.equal(inv.responseFile, "/w/_temp/_runner_hook_responses/g.json");
  assert.equal(inv.args.container?.image, "node:20");
  assert.deepEqual(inv.args.container?.registry, {
    username: "u",
    password: "p",
    serverUrl: "ghcr.io",
  });
  assert.equal("someFutureField" in inv.args.container!, false);
  assert.deepEqual(inv.args.services[0].portMappings, []);
  assert.deepEqual(inv.args.services[0].entryPointArgs, []);
  assert.equal(inv.args.services[0].registry, null);
  assert.equal(inv.args.services[1].registry, null, "a registry without credentials is none");
});

Deno.test("prepare_job without a job container", () => {
  const inv = parseInvocation(invocation("prepare_job", { container: null, services: [] }));
  assert.ok(inv.command === "prepare_job" && inv.args.container === null);
});

Deno.test("run_script_step keeps argument strings and environment values exact", () => {
  const env = { A: "line1\nline2", B: `q"uo'te $HOME \`x\``, C: "", D: "ünï=cödé" };
  const inv = parseInvocation(invocation("run_script_step", {
    entryPoint: "/__e/node20/bin/node",
    entryPointArgs: ['"/__w/_actions/o/r/v1/dist/index.js"'],
    environmentVariables: env,
    prependPath: ["/new", "/old"],
    workingDirectory: "/__w/repo/repo",
  }, { jobPod: "x-workflow" }));
  assert.ok(inv.command === "run_script_step");
  assert.deepEqual(inv.args.entryPointArgs, ['"/__w/_actions/o/r/v1/dist/index.js"']);
  assert.deepEqual(inv.args.environmentVariables, env);
  assert.deepEqual(inv.args.prependPath, ["/new", "/old"]);
  assert.deepEqual(inv.state, { jobPod: "x-workflow" });
});

Deno.test("older runners: string entryPointArgs and prependPath are split", () => {
  const inv = parseInvocation(invocation("run_script_step", {
    entryPoint: "sh",
    entryPointArgs: "-e  /__w/_temp/g.sh",
    environmentVariables: null,
    prependPath: "/a:/b",
    workingDirectory: "/__w",
  }));
  assert.ok(inv.command === "run_script_step");
  assert.deepEqual(inv.args.entryPointArgs, ["-e", "/__w/_temp/g.sh"]);
  assert.deepEqual(inv.args.prependPath, ["/a", "/b"]);
  assert.deepEqual(inv.args.environmentVariables, {});
});

Deno.test("run_container_step accepts a Dockerfile action without image", () => {
  const inv = parseInvocation(
    invocation("run_container_step", { ...container, image: null, dockerfile: "/w/Dockerfile" }),
  );
  assert.ok(inv.command === "run_container_step" && inv.args.dockerfile === "/w/Dockerfile");
  assert.throws(
    () => parseInvocation(invocation("run_container_step", { ...container, image: null })),
    (e: unknown) => e instanceof InputError && e.field === "args.image",
  );
});

Deno.test("cleanup_job ignores its args", () => {
  const inv = parseInvocation(invocation("cleanup_job", {}, { jobPod: "p" }));
  assert.deepEqual(inv.args, {});
});

Deno.test("errors name the JSON field path and what was expected", () => {
  const cases: [string, string, RegExp][] = [
    [
      invocation("prepare_job", { container: { ...container, image: 5 }, services: [] }),
      "args.container.image",
      /must be a string \(got number 5\)/,
    ],
    [
      invocation("prepare_job", { container, services: [{ ...container, image: null }] }),
      "args.services[0].image",
      /got null/,
    ],
    [invocation("prepare_job", { container, services: {} }), "args.services", /must be a list/],
    [
      invocation("prepare_job", {
        container: { ...container, userMountVolumes: [{ sourceVolumePath: "/a" }] },
      }),
      "args.container.userMountVolumes[0].targetVolumePath",
      /missing/,
    ],
    [
      invocation("run_script_step", { entryPoint: "sh" }),
      "args.workingDirectory",
      /must be a string/,
    ],
    [
      invocation("run_script_step", {
        entryPoint: "sh",
        environmentVariables: { X: 1 },
        workingDirectory: "/",
      }),
      "args.environmentVariables.X",
      /string/,
    ],
    [
      invocation("launch_rockets", {}),
      "command",
      /Unknown hook command "launch_rockets".*prepare_job/,
    ],
    [JSON.stringify({ command: "cleanup_job", args: {} }), "responseFile", /missing/],
    [JSON.stringify([1]), "", /must be an object/],
  ];
  for (const [text, field, message] of cases) {
    assert.throws(() => parseInvocation(text), (e: unknown) => {
      assert.ok(e instanceof InputError, String(e));
      assert.equal(e.field, field);
      assert.match(e.message, message);
      return true;
    });
  }
});

Deno.test("empty stdin or non-JSON says kubehook must be run by the runner", () => {
  assert.throws(
    () => parseInvocation(""),
    /the GitHub Actions runner runs this hook.*hook\.sh installed beside the kubehook binary.*kubehook --help/,
  );
  assert.throws(() => parseInvocation(" \n"), /^InputError: nothing arrived on stdin/);
  assert.throws(() => parseInvocation("{oops"), /not valid JSON.*kubehook --help/);
});
