import assert from "node:assert/strict";
import { concat } from "../bytes.ts";
import { buildArchive, tarHeader } from "../../tests/transfer/tar_builder.ts";
import { type TarEntry, TarReader } from "./tar_reader.ts";

/** Reads `bytes` in pieces of `step` bytes; returns entries with their content as text. */
function readAll(
  bytes: Uint8Array,
  step = 7,
): { entries: (TarEntry & { text: string })[]; end: boolean } {
  const reader = new TarReader();
  const entries: (TarEntry & { text: string })[] = [];
  const dec = new TextDecoder();
  for (let pos = 0; pos < bytes.length; pos += step) {
    for (const event of reader.push(bytes.subarray(pos, pos + step))) {
      if (event.kind === "entry") entries.push({ ...event.entry, text: "" });
      if (event.kind === "data") entries.at(-1)!.text += dec.decode(event.bytes, { stream: true });
    }
  }
  return { entries, end: reader.finish().endMarker };
}

Deno.test("reads names, types, modes, links and content across arbitrary chunk borders", () => {
  const archive = buildArchive([
    { name: "dir/", typeflag: "5", mode: 0o750 },
    { name: "dir/a b.txt", data: "x".repeat(700), mode: 0o755, mtime: 1_600_000_000 },
    { name: "dir/link", typeflag: "2", linkname: "../dir/a b.txt" },
    { name: "dir/hard", typeflag: "1", linkname: "dir/a b.txt" },
    { name: "empty", data: "" },
  ]);
  for (const step of [1, 7, 512, 513, 100_000]) {
    const { entries, end } = readAll(archive, step);
    assert.deepEqual(end, true);
    assert.deepEqual(entries.map((e) => [e.name, e.type, e.mode, e.size, e.linkname]), [
      ["dir/", "directory", 0o750, 0, ""],
      ["dir/a b.txt", "file", 0o755, 700, ""],
      ["dir/link", "symlink", 0o644, 0, "../dir/a b.txt"],
      ["dir/hard", "hardlink", 0o644, 0, "dir/a b.txt"],
      ["empty", "file", 0o644, 0, ""],
    ]);
    assert.deepEqual(entries[1].text, "x".repeat(700));
    assert.deepEqual(entries[1].mtime, 1_600_000_000);
  }
});

Deno.test("PAX records override the name, link target, size and mtime", () => {
  const long = "d/".repeat(80) + "n".repeat(300);
  const { entries } = readAll(buildArchive([
    { name: "short", data: "abc", pax: { path: long, mtime: "1700000000.5" } },
    { name: "l", typeflag: "2", pax: { linkpath: "t\u00e9st/\nline" } },
  ]));
  assert.deepEqual(entries[0].name, long);
  assert.deepEqual(entries[0].mtime, 1_700_000_000.5);
  assert.deepEqual(entries[0].text, "abc");
  assert.deepEqual(entries[1].linkname, "t\u00e9st/\nline");
});

Deno.test("a PAX size over 8 GiB and a base-256 size field are read exactly", () => {
  const big = 9 * 1024 ** 3 + 5;
  // Only the header is fed: the content of such a file is never produced in a test.
  const pax = buildArchive([{ name: "huge", pax: { size: String(big) } }], false);
  const reader = new TarReader();
  const events = reader.push(pax.subarray(0, pax.length - 0));
  const entry = events.find((e) => e.kind === "entry");
  assert.deepEqual(entry?.kind === "entry" && entry.entry.size, big);

  const field = new Uint8Array(12);
  field[0] = 0x80;
  let rest = big;
  for (let i = 11; i > 0; i--, rest = Math.floor(rest / 256)) field[i] = rest % 256;
  const header = tarHeader({ name: "huge2", sizeField: field }, 0);
  const b256 = new TarReader().push(header)[0];
  assert.deepEqual(b256.kind === "entry" && b256.entry.size, big);
});

Deno.test("GNU long names apply to the next member", () => {
  const long = "x".repeat(400);
  const { entries } = readAll(buildArchive([{ name: "trunc", gnuLongName: long, data: "1" }]));
  assert.deepEqual(entries.map((e) => e.name), [long]);
});

Deno.test("concatenated archives read as one; an empty input has no end marker", () => {
  const two = concat([buildArchive([{ name: "a" }]), buildArchive([{ name: "b" }])]);
  assert.deepEqual(readAll(two).entries.map((e) => e.name), ["a", "b"]);
  assert.deepEqual(readAll(new Uint8Array()).end, false);
  assert.deepEqual(readAll(buildArchive([{ name: "a" }], false)).end, false);
});

Deno.test("names that are not UTF-8 are flagged, not fatal", () => {
  const header = tarHeader({ name: "x" }, 0);
  header[1] = 0xff;
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.set(new TextEncoder().encode(sum.toString(8).padStart(6, "0") + "\0"), 148);
  const event = new TarReader().push(header)[0];
  assert.deepEqual(event.kind === "entry" && event.entry.utf8, false);
});

Deno.test("truncated input, bad checksums and oversized records are errors", () => {
  const archive = buildArchive([{ name: "a", data: "x".repeat(600) }]);
  assert.throws(() => readAll(archive.subarray(0, 700)), {
    name: "TarFormatError",
    message: /middle\ of\ an\ entry/,
  });
  assert.throws(() => readAll(archive.subarray(0, 300)), {
    name: "TarFormatError",
    message: /middle\ of\ a\ header/,
  });
  const bad = archive.slice();
  bad[0] ^= 1;
  assert.throws(() => readAll(bad), { name: "TarFormatError", message: /invalid\ checksum/ });
  const huge = tarHeader({ name: "p", typeflag: "x" }, 2 * 1024 * 1024);
  assert.throws(() => new TarReader().push(huge), {
    name: "TarFormatError",
    message: /metadata\ records/,
  });
  // Many small records before one entry are capped in all, not each.
  const record = (n: number) => {
    const rest = ` x${n}=${"v".repeat(600)}\n`;
    let length = rest.length + 3;
    length = rest.length + String(length).length;
    const body = new TextEncoder().encode(`${length}${rest}`);
    return concat([
      tarHeader({ name: "p", typeflag: "x" }, body.length),
      body,
      new Uint8Array((512 - body.length % 512) % 512),
    ]);
  };
  const flood = concat(Array.from({ length: 1800 }, (_, n) => record(n)));
  assert.throws(() => new TarReader().push(flood), {
    name: "TarFormatError",
    message: /metadata\ records\ before\ the\ entry/,
  });
  const malformed = buildArchive([{ name: "a", pax: { path: "x" } }]);
  malformed[512] = "5".charCodeAt(0); // the record length no longer matches
  assert.throws(() => readAll(malformed), { name: "TarFormatError", message: /PAX\ record/ });
});

Deno.test("a header summed with signed bytes (as some old tars wrote it) is accepted", () => {
  const header = tarHeader({ name: "café" }, 0); // é is two bytes over 127
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : header[i];
    signed += b > 127 ? b - 256 : b;
  }
  header.set(new TextEncoder().encode(signed.toString(8).padStart(6, "0") + "\0"), 148);
  const event = new TarReader().push(header)[0];
  assert.equal(event.kind === "entry" && event.entry.name, "café");
  header[0] ^= 1;
  assert.throws(() => new TarReader().push(header), { message: /invalid\ checksum/ });
});
