/**
 * The host packer's archive format for what a round trip cannot afford to send whole: a file over
 * 8 GiB (a sparse one, so nothing is written to disk) must be described by a PAX size record,
 * which ustar's 11-digit octal field cannot hold. Only the headers are read; tar is stopped
 * before it reads the file's content.
 */
import assert from "node:assert/strict";
import { packHostTree } from "./host_pack.ts";
import { TarReader } from "./tar_reader.ts";

Deno.test("a file over 8 GiB is packed with its exact size (PAX), found before any content", async () => {
  const root = await Deno.makeTempDir({ prefix: "kubehook-pack-" });
  try {
    const size = 8 * 2 ** 30 + 1;
    await Deno.writeFile(`${root}/small`, new TextEncoder().encode("x"));
    using big = await Deno.open(`${root}/huge.bin`, { create: true, write: true });
    await big.truncate(size);
    const archive = await packHostTree(root);
    const reader = new TarReader();
    const sizes = new Map<string, number>();
    for await (const chunk of archive.stream) {
      for (const event of reader.push(chunk)) {
        if (event.kind === "entry") sizes.set(event.entry.name, event.entry.size);
      }
      if (sizes.has("huge.bin")) break; // leaving the loop cancels the stream
    }
    archive.kill();
    await archive.done.catch(() => {});
    assert.equal(sizes.get("huge.bin"), size);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
