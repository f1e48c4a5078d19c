/**
 * Host → "pod" → host without a cluster: `copyToPod` and `copyFromPod` against a "pod" that is a
 * local process with GNU tools or with busybox alone (local_pod.ts). Trees are compared byte for
 * byte, with modes, mtimes and links.
 */
import assert from "node:assert/strict";
import { TransferError } from "../../src/transfer/copy.ts";
import { podMarkScript } from "../../src/transfer/pod_scripts.ts";
import { bringBack, localPod, sendToPod, withDirs } from "./local_pod.ts";
import { makeFidelityTree, type Snapshot, snapshot, withoutDirMtimes } from "./tree.ts";

function without(snap: Snapshot, ...drop: string[]): Snapshot {
  return Object.fromEntries(Object.entries(snap).filter(([k]) => !drop.includes(k)));
}

for (const flavor of ["gnu", "busybox"] as const) {
  for (const gzip of [false, true]) {
    Deno.test(`${flavor}${gzip ? " + gzip" : ""}: every fidelity case survives host → pod → host`, async () => {
      await withDirs(async ({ host, pod, back }) => {
        await makeFidelityTree(host);
        // A copy that fails (tar's exit, the receipt's count) throws.
        const sent = await sendToPod(flavor, host, pod, { gzip });
        const original = await snapshot(host);
        assert.equal(sent.entries, Object.keys(original).length);
        assert.equal(sent.attempts, 1, "the local exec was lost");
        // busybox tar sets a directory's mtime before writing into it, so only GNU tar keeps it.
        const comparable = flavor === "gnu" ? (s: Snapshot) => s : withoutDirMtimes;
        assert.deepEqual(comparable(await snapshot(pod)), comparable(original));

        // Throws unless the pod's receipt says pack_exit=0 and the shell exited with 0.
        const got = await bringBack(flavor, pod, back, { gzip });
        // Only the absolute link is refused on the way back (the pod is not trusted).
        assert.deepEqual(got.rejected.map((r) => r.name), ["./abs-link"]);
        assert.equal(got.attempts, 1, "the local exec was lost");
        assert.deepEqual(
          comparable(await snapshot(back)),
          comparable(without(original, "abs-link")),
        );
      });
    });
  }
}

Deno.test("gnu: only what changed after the marker comes back, moved directories whole", async () => {
  await withDirs(async ({ host, pod, back }) => {
    await Deno.mkdir(`${host}/_temp/_runner_file_commands`, { recursive: true });
    await Deno.writeTextFile(`${host}/_temp/_runner_file_commands/set_env_1`, "");
    await Deno.mkdir(`${host}/repo/src`, { recursive: true });
    await Deno.writeTextFile(`${host}/repo/src/a.txt`, "a");
    await Deno.writeTextFile(`${host}/repo/b.txt`, "b");
    await Deno.mkdir(`${host}/staging/pkg`, { recursive: true });
    await Deno.writeTextFile(`${host}/staging/pkg/index.js`, "x");
    for (const p of ["staging/pkg/index.js", "staging/pkg", "staging", "repo/b.txt"]) {
      await Deno.utime(`${host}/${p}`, 1_500_000_000, 1_500_000_000);
    }
    await sendToPod("gnu", host, pod);
    // prepare_job and the first step are separate hook calls, further apart than the 20 ms the
    // marker is backdated by (see podMarkScript).
    await new Promise((resolve) => setTimeout(resolve, 30));
    const marker = `${pod}/../kubehook/step-1`;
    await using runner = await localPod("gnu");
    assert.equal((await runner.run(podMarkScript(marker))).code, 0);
    // A moved directory is recognised by a ctime after the marker's: the step starts at least a
    // clock tick (≤ 10 ms) after the marker, as the step's own launch takes longer than that.
    await new Promise((resolve) => setTimeout(resolve, 20));

    // What a step does: edit, create, move a directory in, extract old files.
    await Deno.writeTextFile(`${pod}/repo/b.txt`, "changed");
    await Deno.writeTextFile(`${pod}/repo/new.txt`, "new");
    await Deno.writeTextFile(`${pod}/repo/restored.txt`, "from a cache, with an old mtime");
    await Deno.utime(`${pod}/repo/restored.txt`, 1_400_000_000, 1_400_000_000);
    await Deno.rename(`${pod}/staging/pkg`, `${pod}/repo/pkg`);
    await Deno.writeTextFile(`${pod}/_temp/_runner_file_commands/set_env_1`, "A=1\n");

    await bringBack("gnu", pod, back, { since: marker, always: ["_temp/_runner_file_commands"] });
    assert.deepEqual(Object.keys(await snapshot(back)).sort(), [
      "_temp",
      "_temp/_runner_file_commands",
      "_temp/_runner_file_commands/set_env_1",
      "repo",
      "repo/b.txt",
      "repo/new.txt",
      "repo/pkg",
      "repo/pkg/index.js",
      "repo/restored.txt",
      "staging",
    ]);
    assert.equal(await Deno.readTextFile(`${back}/repo/pkg/index.js`), "x");
    assert.equal(await Deno.readTextFile(`${back}/_temp/_runner_file_commands/set_env_1`), "A=1\n");
  });
});

Deno.test("busybox: changed files come back by mtime; unchanged ones do not", async () => {
  await withDirs(async ({ host, pod, back }) => {
    await Deno.mkdir(`${host}/repo`);
    await Deno.writeTextFile(`${host}/repo/old.txt`, "old");
    await Deno.utime(`${host}/repo/old.txt`, 1_500_000_000, 1_500_000_000);
    await Deno.utime(`${host}/repo`, 1_500_000_000, 1_500_000_000);
    await sendToPod("busybox", host, pod);
    const marker = `${pod}/../kubehook/m`;
    await using runner = await localPod("busybox");
    assert.equal((await runner.run(podMarkScript(marker))).code, 0);
    await Deno.writeTextFile(`${pod}/repo/new.txt`, "new");
    await bringBack("busybox", pod, back, { since: marker, exclude: ["repo/skip"], gzip: true });
    assert.deepEqual(Object.keys(await snapshot(back)).sort(), ["repo", "repo/new.txt"]);
  });
});

for (const flavor of ["gnu", "busybox"] as const) {
  Deno.test(`${flavor}: a failing tar in the pod fails the copy and the receipt says so`, async () => {
    await withDirs(async ({ host, pod }) => {
      await Deno.writeTextFile(`${host}/f`, "x");
      await Deno.mkdir(`${pod}/f`, { recursive: true }); // a directory where a file must go
      await Deno.writeTextFile(`${pod}/f/keep`, "blocks the replacement");
      const failed = await sendToPod(flavor, host, pod).then(() => undefined, (err) => err);
      assert.ok(failed instanceof TransferError, `the copy did not fail so: ${failed}`);
      assert.match(failed.message, /: tar in the pod exited with code [1-9]/);
    });
  });
}
