/**
 * The follower's exit marker carries the size of the step's whole output, and the host resumes
 * when less arrived: the marker travels on stderr, which can overtake the last of stdout, and a
 * connection cut between the two kept the code and lost that output (seen on the real tier).
 */
import assert from "node:assert/strict";
import { outputMissing } from "./detached_step.ts";
import { RESUME } from "./step_scripts.ts";

Deno.test("the follower ends with the exit code and the size of the whole output", async () => {
  const d = await Deno.makeTempDir({ prefix: "kubehook-follow-" });
  try {
    await Deno.mkdir(`${d}/started`);
    const output = "line one\nline two, ü\n";
    await Deno.writeTextFile(`${d}/out`, output);
    await Deno.writeTextFile(`${d}/code`, "3\n");
    const size = new TextEncoder().encode(output).length;
    for (const offset of [0, 5]) {
      const run = await new Deno.Command("sh", {
        args: ["-c", RESUME, "kubehook", d, "10", String(offset)],
      }).output();
      assert.equal(run.code, 3);
      assert.deepEqual(run.stdout, new TextEncoder().encode(output).subarray(offset));
      assert.equal(new TextDecoder().decode(run.stderr), `kubehook-exit 3 ${size}\n`);
    }
  } finally {
    await Deno.remove(d, { recursive: true });
  }
});

Deno.test("output the exit marker counts and the host did not get is missing", () => {
  assert.equal(outputMissing(400, 384), 16);
  assert.equal(outputMissing(400, 400), 0);
  // No marker: nothing is known to be missing (the session's end decides).
  assert.equal(outputMissing(undefined, 0), 0);
});
