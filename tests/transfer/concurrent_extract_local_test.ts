/**
 * Two extractions into one directory at once, as happens when an upload is sent again after its
 * connection broke while the first attempt's tar still runs in the pod: the first one ending must
 * not touch the second's count of what it extracted. They shared GNU tar's listing file, and the
 * first removed it from under the second, whose check then failed the step ("tar in the pod listed
 * 5 entries but 9 were sent": a fault-matrix row, now and then).
 */
import assert from "node:assert/strict";
import { podExtractScript } from "../../src/transfer/pod_scripts.ts";
import { buildArchive } from "./tar_builder.ts";
import { localPod, withDirs } from "./local_pod.ts";

Deno.test("an extraction that ends during another's leaves the other's count alone", async () => {
  await withDirs(async ({ pod }) => {
    await using local = await localPod("gnu");
    const start = (expect?: { entries: number; nameNewlines: number }) =>
      local.exec({
        ...local.target,
        command: ["sh", "-c", podExtractScript(pod, { gzip: false, expect })],
        stdin: true,
      });
    const names = Array.from({ length: 9 }, (_, i) => `f${i}.txt`);
    // 16 KiB each: GNU tar reads 10 KiB records, so the first entries are extracted at once.
    const data = (name: string) => name.padEnd(16384, ".");
    const archive = buildArchive(names.map((name) => ({ name, data: data(name) })));
    // Its first five entries (a 512-byte header and the data each), then the rest.
    const half = 5 * (512 + 16384);

    const first = await start();
    const second = await start({ entries: names.length, nameNewlines: 0 });
    const writer = second.stdin!.getWriter();
    await writer.write(archive.subarray(0, half));
    // The second tar runs (it made the first files, so its listing file is open) ...
    while (!(await Deno.lstat(`${pod}/f0.txt`).then(() => true, () => false))) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // ... when the first one, cut off, ends.
    await first.stdin!.close();
    await Promise.all([first.result, first.stdout.cancel(), first.stderr.cancel()]);
    await writer.write(archive.subarray(half));
    await writer.close();
    const [result, , stderr] = await Promise.all([
      second.result,
      second.stdout.cancel(),
      new Response(second.stderr).text(),
    ]);
    assert.deepEqual(result, { kind: "exited", exitCode: 0 }, stderr);
    for (const name of names) {
      assert.equal(await Deno.readTextFile(`${pod}/${name}`), data(name));
    }
  });
});
