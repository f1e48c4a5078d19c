import assert from "node:assert/strict";
import { containerOf } from "../runner/input.ts";
import { actionEnvironment, escapeExpansion, renderActionContainer } from "./action_container.ts";

const render = (over: Parameters<typeof containerOf>[1]) =>
  renderActionContainer({
    name: "step-x",
    step: containerOf("alpine:3", { workingDirectory: "/github/workspace", ...over }),
    workspacePath: "repo/repo",
    envSecret: "s",
  });

Deno.test("docker run semantics: the image's ENTRYPOINT and CMD stay unless the step replaces them", () => {
  const plain = render({});
  assert.equal(plain.command, undefined);
  assert.equal(plain.args, undefined);
  assert.equal(plain.workingDir, "/github/workspace");
  const args = render({ entryPointArgs: ['"a', 'b"', '""', '"say', '\\"hi\\""'] });
  assert.equal(args.command, undefined, "arguments alone keep ENTRYPOINT");
  assert.deepEqual(args.args, ["a b", "", 'say "hi"']);
  const entry = render({ entryPoint: "/entrypoint.sh" });
  assert.deepEqual(entry.command, ["/entrypoint.sh"]);
  assert.equal(entry.args, undefined, "--entrypoint drops CMD");
});

Deno.test("dollars survive the kubelet's $(VAR) expansion", () => {
  assert.equal(escapeExpansion("$(HOME) $$ $"), "$$(HOME) $$$$ $$");
  assert.deepEqual(render({ entryPointArgs: ['"$(id)"'] }).args, ["$$(id)"]);
});

Deno.test("the environment travels in a Secret; names a Secret cannot hold go inline", () => {
  const env = actionEnvironment({ "INPUT_WHO": "$(x)\n", "odd name": "v$", CI: "false" });
  assert.deepEqual(env.secretData, { CI: "false", GITHUB_ACTIONS: "true", INPUT_WHO: "$(x)\n" });
  assert.deepEqual(env.inline, [{ name: "odd name", value: "v$$" }]);
  const container = render({});
  assert.deepEqual(container.envFrom, [{ secretRef: { name: "s" } }]);
  assert.ok(container.volumeMounts?.some((m) => m.mountPath === "/github/workspace"));
});
