/**
 * Two extractions into one directory at once, as happens when an upload is sent again after its
 * connection broke while the first attempt's tar still runs in the pod. Neither may disturb the
 * other: they shared GNU tar's listing file, which the first to end removed from under the other's
 * count ("tar in the pod listed 5 entries but 9 were sent", a fault-matrix row now and then); and
 * the first to end removes kubehook's emptied bookkeeping directory, which the other may just have
 * made ("tar-index: Cannot open", another row).
 */
import assert from "node:assert/strict";
import { podExtractScript } from "../../src/transfer/pod_scripts.ts";
import type { SentCount } from "../../src/transfer/receipt.ts";
import { buildArchive } from "./tar_builder.ts";
import { type LocalPod, localPod, withDirs } from "./local_pod.ts";

const names = Array.from({ length: 9 }, (_, i) => `f${i}.txt`);
// 16 KiB each: GNU tar reads 10 KiB records, so the first entries are extracted at once.
const data = (name: string) => name.padEnd(16384, ".");
const archive = buildArchive(names.map((name) => ({ name, data: data(name) })));
const expect: SentCount = { entries: names.length, nameNewlines: 0 };

/** An extraction into `pod`, the script run after `before` (shell commands). */
function startExtraction(local: LocalPod, pod: string, expect?: SentCount, before = "") {
  const script = `${before}${podExtractScript(pod, { gzip: false, expect })}`;
  return local.exec({ ...local.target, command: ["sh", "-c", script], stdin: true });
}

async function assertExtracted(pod: string) {
  for (const name of names) {
    assert.equal(await Deno.readTextFile(`${pod}/${name}`), data(name));
  }
  // Plain extractions leave no bookkeeping behind.
  await assert.rejects(Deno.lstat(`${pod}/.kubehook`), Deno.errors.NotFound);
}

Deno.test("an extraction that ends during another's leaves the other's count alone", async () => {
  await withDirs(async ({ pod }) => {
    await using local = await localPod("gnu");
    const first = await startExtraction(local, pod);
    const second = await startExtraction(local, pod, expect);
    const writer = second.stdin!.getWriter();
    // Its first five entries (a 512-byte header and the data each), then the rest.
    const half = 5 * (512 + 16384);
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
    await assertExtracted(pod);
  });
});

Deno.test("an extraction whose bookkeeping directory another one removed as it was made goes on", async () => {
  await withDirs(async ({ pod }) => {
    await using local = await localPod("gnu");
    await Deno.mkdir(pod, { recursive: true });
    // A mkdir that, the first time, loses to the other attempt's rmdir between the directories it
    // makes: `mkdir -p` then fails, as the real one does when its parent goes in between.
    const bin = await Deno.makeTempDir({ prefix: "kubehook-mkdir-" });
    try {
      await Deno.writeTextFile(
        `${bin}/mkdir`,
        `#!/bin/sh
if [ ! -e "${bin}/raced" ]; then
  : >"${bin}/raced"
  for a; do case "$a" in -*) ;; *) /usr/bin/mkdir -p "\${a%/*}" && rmdir "\${a%/*}" ;; esac; done
  echo "mkdir: cannot create directory '$*': No such file or directory" >&2
  exit 1
fi
exec /usr/bin/mkdir "$@"
`,
        { mode: 0o755 },
      );
      const session = await startExtraction(local, pod, expect, `PATH=${bin}:$PATH; `);
      const writer = session.stdin!.getWriter();
      const [result, , stderr] = await Promise.all([
        session.result,
        session.stdout.cancel(),
        new Response(session.stderr).text(),
        // Refused when the script fails before reading: its result tells why.
        writer.write(archive).then(() => writer.close()).catch(() => {}),
      ]);
      assert.deepEqual(result, { kind: "exited", exitCode: 0 }, stderr);
      // The race happened.
      await Deno.lstat(`${bin}/raced`);
      await assertExtracted(pod);
    } finally {
      await Deno.remove(bin, { recursive: true });
    }
  });
});
