import assert from "node:assert/strict";
import { concat } from "../bytes.ts";
import { buildArchive, tarHeader } from "../../tests/transfer/tar_builder.ts";
import { ArchiveCounter } from "./counting.ts";
import { packHostTree } from "./host_pack.ts";
import { TarReader } from "./tar_reader.ts";

type Count = { entries: number; nameNewlines: number; contentBytes: number };

/** What the counter counts, the way it was counted before (every header read by TarReader,
 * every name decoded), or the error that reading threw. */
function reference(bytes: Uint8Array, step: number): Count | string {
  const reader = new TarReader();
  const count = { entries: 0, nameNewlines: 0, contentBytes: 0 };
  try {
    for (let pos = 0; pos < bytes.length; pos += step) {
      for (const event of reader.push(bytes.subarray(pos, pos + step))) {
        if (event.kind !== "entry") continue;
        count.entries++;
        count.nameNewlines += event.entry.name.split("\n").length - 1;
        count.contentBytes += event.entry.size;
      }
    }
    reader.finish();
  } catch (error) {
    return (error as Error).message;
  }
  return count;
}

function counted(bytes: Uint8Array, step: number): Count | string {
  const counter = new ArchiveCounter();
  try {
    for (let pos = 0; pos < bytes.length; pos += step) {
      counter.push(bytes.subarray(pos, pos + step));
    }
    counter.finish();
  } catch (error) {
    return (error as Error).message;
  }
  assert.equal(counter.count.bytes, bytes.length);
  const { entries, nameNewlines, contentBytes } = counter.count;
  return { entries, nameNewlines, contentBytes };
}

function assertSameCount(bytes: Uint8Array, what: string): void {
  for (const step of [1, 7, 100, 511, 512, 513, 1024, 65536, bytes.length || 1]) {
    assert.deepEqual(counted(bytes, step), reference(bytes, step), `${what}, chunks of ${step}`);
  }
}

/** A header whose name field holds `bytes` (any bytes, not only UTF-8), checksum fixed. */
function rawNameHeader(bytes: number[], prefix: number[] = []): Uint8Array {
  const header = tarHeader({ name: "x" }, 0);
  header.fill(0, 0, 100);
  header.set(bytes, 0);
  header.set(prefix, 345);
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.set(new TextEncoder().encode(sum.toString(8).padStart(6, "0") + "\0"), 148);
  return header;
}

Deno.test("the counter counts as the tar reader does: names with newlines and backslashes, PAX, GNU long names", () => {
  const archive = buildArchive([
    { name: "dir/", typeflag: "5" },
    { name: "dir/a\nb\nc", data: "x".repeat(700) },
    { name: "dir/back\\slash\\n", data: "y" },
    { name: "trunc", gnuLongName: `${"l".repeat(150)}\n${"m".repeat(150)}\n`, data: "z" },
    { name: "p", pax: { path: `pax\nname/${"q".repeat(300)}\n\n`, size: "3" }, data: "abc" },
    { name: "only-size", pax: { size: "1000" }, data: "s".repeat(1000) },
    { name: "link\n", typeflag: "2", linkname: "target\nwith newline" },
    { name: "hard", typeflag: "1", linkname: "dir/a\nb\nc" },
    { name: "long-link", typeflag: "2", pax: { linkpath: "t\n".repeat(100) } },
    { name: "fifo", typeflag: "6" },
    { name: "caf\u00e9\n\u2603", data: "" },
    { name: "empty", data: "" },
  ]);
  assertSameCount(archive, "a built archive");
  const count = counted(archive, 512) as Count;
  assert.equal(count.entries, 12);
  assert.equal(count.nameNewlines, 2 + 2 + 3 + 1 + 1);
  assert.equal(count.contentBytes, 700 + 1 + 1 + 3 + 1000);
  // Concatenated archives (what the pod's `find -exec tar {} +` writes) count as one.
  assertSameCount(concat([archive, archive]), "two archives in a row");
});

Deno.test("the counter counts the newlines of names that are not UTF-8 as the tar reader does", () => {
  // A lead byte cut by a newline: the lenient decoder gives U+FFFD and keeps the newline.
  const header = rawNameHeader([0x61, 0xe2, 0x0a, 0x82, 0xff, 0x0a], [0xc3, 0x0a, 0x80]);
  assertSameCount(concat([header, new Uint8Array(1024)]), "a name of invalid UTF-8");
  assert.deepEqual(counted(concat([header, new Uint8Array(1024)]), 512), {
    entries: 1,
    nameNewlines: 3,
    contentBytes: 0,
  });
});

Deno.test("the counter skips what header-only types announce and reads base-256 sizes", () => {
  // A directory that announces 700 bytes: they are skipped, not read as headers.
  const dir = tarHeader({ name: "d", typeflag: "5" }, 700);
  const skipped = concat([dir, new Uint8Array(1024).fill(0x41), buildArchive([{ name: "after" }])]);
  assertSameCount(skipped, "a directory with a size");
  const big = 9 * 1024 ** 3 + 5;
  const field = new Uint8Array(12);
  field[0] = 0x80;
  let rest = big;
  for (let i = 11; i > 0; i--, rest = Math.floor(rest / 256)) field[i] = rest % 256;
  const counter = new ArchiveCounter();
  counter.push(tarHeader({ name: "huge", sizeField: field }, 0));
  assert.equal(counter.count.contentBytes, big);
  assert.throws(() => counter.finish(), { message: /middle\ of\ an\ entry/ });
});

Deno.test("the counter fails where the tar reader fails, with the same message", () => {
  const archive = buildArchive([
    { name: "a", data: "x".repeat(600) },
    { name: "b", gnuLongName: "long\nname" },
    { name: "c", pax: { path: "p\nq" } },
  ]);
  // Cut anywhere: inside headers, contents, records, padding.
  for (let cut = 0; cut < archive.length; cut += 37) {
    assertSameCount(archive.subarray(0, cut), `cut at ${cut}`);
  }
  const bad = archive.slice();
  bad[3] ^= 1;
  assertSameCount(bad, "a bad checksum");
  const malformed = buildArchive([{ name: "a", pax: { path: "x" } }]);
  malformed[512] = "5".charCodeAt(0);
  assertSameCount(malformed, "a malformed PAX record");
  const invalid = buildArchive([{ name: "a", pax: { path: "x" } }]);
  invalid[512 + 9] = 0xff; // inside the value: not UTF-8
  assertSameCount(invalid, "a PAX record that is not UTF-8");
  const huge = concat([tarHeader({ name: "p", typeflag: "x" }, 2 * 1024 * 1024)]);
  assertSameCount(huge, "an oversized record");
  assert.throws(() => new ArchiveCounter().push(huge), { message: /metadata\ records/ });
  const badSize = tarHeader({ name: "s", sizeField: new TextEncoder().encode("12345678901x") }, 0);
  assertSameCount(badSize, "a size that is not octal");
});

Deno.test("the counter counts GNU tar's own archives of hostile names exactly", async () => {
  const root = await Deno.makeTempDir({ prefix: "kubehook-counting-" });
  try {
    const names = [
      "plain.txt",
      "new\nline",
      "two\n\nnewlines\n",
      "back\\slash",
      "back\\nslash\\",
      "tab\there",
      `${"long-".repeat(30)}\nname`,
      "caf\u00e9 \u2603",
      "-rf",
      "*?[glob]",
    ];
    await Deno.mkdir(`${root}/sub\ndir/${"deep/".repeat(30)}`, { recursive: true });
    for (const name of names) {
      await Deno.writeTextFile(`${root}/${name}`, name);
      await Deno.writeTextFile(`${root}/sub\ndir/${"deep/".repeat(30)}${name}`, name.repeat(50));
    }
    // The archive kubehook sends, as it is sent.
    const archive = await packHostTree(root);
    const chunks: Uint8Array[] = [];
    for await (const chunk of archive.chunks()) chunks.push(chunk.slice());
    await archive.done;
    const bytes = concat(chunks);
    assertSameCount(bytes, "packHostTree");
    const count = counted(bytes, 65536) as Count;
    // The names' newlines twice (top and deep), and the one of `sub\ndir` in every path below it
    // (itself, 30 directories, the files).
    const newlines = names.join("").split("\n").length - 1;
    assert.equal(count.nameNewlines, 2 * newlines + 1 + 30 + names.length);
    // Then a name that is not UTF-8, whose PAX record both refuse, made by the shell (Deno's
    // paths are strings) below the top level (whose entries kubehook names to tar itself).
    const bad = `printf x > "$(printf '${root}/sub\\ndir/bad\\377\\nname')"`;
    assert.ok((await new Deno.Command("sh", { args: ["-c", bad] }).output()).success);
    for (const format of ["posix", "gnu", "ustar"]) {
      const output = await new Deno.Command("tar", {
        args: [`--format=${format}`, "-c", "-f", "-", "-C", root, "."],
        stdout: "piped",
        stderr: "null",
      }).output();
      assertSameCount(output.stdout, `GNU tar --format=${format}`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
