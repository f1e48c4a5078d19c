/**
 * The window between two steps, without a cluster, with GNU tools and with busybox alone: what
 * changed in the pod after the last sync and before the next step's upload comes back with that
 * step's pack (a new file, deletions, also in a directory the upload rewrote; with GNU find a
 * change of mode alone and a directory moved in with old mtimes), and with GNU find the upload
 * itself does not. The sequence is a step's: last sync marker, changes in the pod, window end
 * marker, upload, step marker, the step's own change, pack. The upload and the pack are
 * `copyToPod` and `copyFromPod` against a local "pod" (local_pod.ts); a step's upload runs the
 * same extraction inside the step's own exec.
 */
import assert from "node:assert/strict";
import { podMarkScript, podWindowEndScript } from "../../src/transfer/pod_scripts.ts";
import { bringBack, type Flavor, localPod, sendToPod, withDirs } from "./local_pod.ts";

const HOUR_AGO = new Date(Date.now() - 3600_000);

async function sh(flavor: Flavor, script: string): Promise<void> {
  await using pod = await localPod(flavor);
  const { code, stderr } = await pod.run(script);
  assert.equal(code, 0, stderr);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** Writes `files` under each root, all of it an hour old (older than any busybox marker). */
async function oldTree(files: string[], ...roots: string[]): Promise<void> {
  for (const root of roots) {
    for (const file of files) {
      const path = `${root}/${file}`;
      const dir = path.slice(0, path.lastIndexOf("/"));
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeTextFile(path, file);
      await Deno.utime(path, HOUR_AGO, HOUR_AGO);
      await Deno.utime(dir, HOUR_AGO, HOUR_AGO);
    }
  }
}

for (const flavor of ["gnu", "busybox"] as const) {
  Deno.test(`${flavor}: what changed in the pod between two steps comes back after the next`, async () => {
    // `host` is the runner's <work>: the upload's source and where the pack comes back.
    await withDirs(async ({ host, pod, back: stage }) => {
      await Deno.mkdir(pod, { recursive: true });
      const files = ["keep.txt", "gone.txt", "mode.txt", "sub/gone.txt", "sub/keep.txt"];
      await oldTree(files, host, pod);
      // Made before the last sync, moved into the pod in the window: old mtimes and ctimes.
      await oldTree(["moved/inner.txt"], stage);
      const marks = `${pod}/.kubehook/marks`;
      await sh(flavor, podMarkScript(`${marks}/last-sync`));

      // In the window, in the pod (a process the last step left running).
      await Deno.writeTextFile(`${pod}/late.txt`, "late");
      await Deno.remove(`${pod}/gone.txt`);
      await Deno.remove(`${pod}/sub/gone.txt`);
      await Deno.chmod(`${pod}/mode.txt`, 0o755);
      await Deno.rename(`${stage}/moved`, `${pod}/moved`);
      if (flavor === "busybox") {
        // A long window: the last sync ten minutes ago, these writes five. busybox markers are
        // whole seconds set back a second or two, so the last seconds would count anyway.
        const [tenAgo, fiveAgo] = [600_000, 300_000].map((ms) => new Date(Date.now() - ms));
        await Deno.utime(`${marks}/last-sync`, tenAgo, tenAgo);
        for (const path of ["late.txt", "."]) await Deno.utime(`${pod}/${path}`, fiveAgo, fiveAgo);
      }
      // ...and on the host: the runner writes the next step's script into `sub`, so the upload
      // rewrites `sub` (its mtime is the host's again, its ctime the upload's).
      await Deno.writeTextFile(`${host}/sub/runner.txt`, "from the runner");
      // The window's end is set 10 ms back (podWindowEndScript): a step starts later than that.
      await new Promise((resolve) => setTimeout(resolve, 30));

      await sh(flavor, podWindowEndScript(`${marks}/window-end`));
      await sendToPod(flavor, host, pod, { paths: ["sub", "sub/runner.txt"] });
      await sh(flavor, podMarkScript(`${marks}/step`));
      await Deno.writeTextFile(`${pod}/step.txt`, "by the step");
      // Had the upload come back, the host's newer version would be overwritten.
      await Deno.writeTextFile(`${host}/sub/runner.txt`, "changed on the host since");

      // `exclude` is also what the host's extractor protects.
      const got = await bringBack(flavor, pod, host, {
        since: `${marks}/step`,
        window: { from: `${marks}/last-sync`, to: `${marks}/window-end` },
        exclude: [".kubehook"],
        listing: true,
      });
      assert.deepEqual(got.rejected, []);
      assert.equal(await Deno.readTextFile(`${host}/late.txt`), "late");
      assert.equal(await Deno.readTextFile(`${host}/step.txt`), "by the step");
      assert.equal(await exists(`${host}/gone.txt`), false, "a deletion in the window");
      assert.equal(await exists(`${host}/sub/gone.txt`), false, "a deletion the upload hid");
      assert.equal(await Deno.readTextFile(`${host}/sub/keep.txt`), "sub/keep.txt");
      assert.equal(await Deno.readTextFile(`${host}/keep.txt`), "keep.txt");
      if (flavor === "gnu") {
        assert.equal((await Deno.stat(`${host}/mode.txt`)).mode! & 0o777, 0o755);
        assert.equal(await Deno.readTextFile(`${host}/moved/inner.txt`), "moved/inner.txt");
        assert.equal(
          await Deno.readTextFile(`${host}/sub/runner.txt`),
          "changed on the host since",
          "the upload came back",
        );
      }
    });
  });
}
