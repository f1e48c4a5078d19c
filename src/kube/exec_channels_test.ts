import assert from "node:assert/strict";
import { KubeApiError } from "./errors.ts";
import { exitCodeFromStatus, MAX_STDIN_PAYLOAD, stdinMessages } from "./exec_channels.ts";

const PATH = "/api/v1/namespaces/ci/pods/job/exec";
const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

Deno.test("stdin is cut into messages of at most 64 KiB, each behind the stdin channel byte", () => {
  const data = new Uint8Array(2 * MAX_STDIN_PAYLOAD + 3).map((_, i) => i % 251);
  const messages = [...stdinMessages(data)];
  assert.deepEqual(messages.map(([prefix, part]) => [[...prefix], part.length]), [
    [[0], MAX_STDIN_PAYLOAD],
    [[0], MAX_STDIN_PAYLOAD],
    [[0], 3],
  ]);
  assert.ok(messages.every(([, part]) => part.buffer === data.buffer), "a part was copied");
  assert.deepEqual(new Uint8Array(messages.flatMap(([, part]) => [...part])), data);
  assert.deepEqual([...stdinMessages(new Uint8Array(0))], []);
});

Deno.test("the channel-3 Status gives the exit code", () => {
  assert.equal(exitCodeFromStatus(json({ metadata: {}, status: "Success" }), PATH), 0);
  const nonZero = {
    metadata: {},
    status: "Failure",
    message: "command terminated with non-zero exit code: error executing command [sh -c exit 7]",
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: "7" }] },
  };
  assert.equal(exitCodeFromStatus(json(nonZero), PATH), 7);
});

Deno.test("a failure that is not an exit code throws the server's status and message", () => {
  const internal = {
    metadata: {},
    status: "Failure",
    message: 'Internal error occurred: error executing command in container: "nope" not found',
    reason: "InternalError",
    code: 500,
  };
  assert.throws(() => exitCodeFromStatus(json(internal), PATH), (err: KubeApiError) => {
    assert.equal(err.status, 500);
    assert.equal(err.reason, "InternalError");
    assert.match(err.message, /exec into pod "job" in namespace "ci".*"nope" not found/);
    return true;
  });
  assert.throws(
    () => exitCodeFromStatus(new TextEncoder().encode("not json"), PATH),
    /exec status is not JSON/,
  );
});
