/**
 * The hostile-archive suite for the host extractor: each archive tries one escape (the kubectl cp
 * CVEs and their variants); the test asserts the entry is reported by name and that nothing
 * outside the target was created, changed or removed.
 */
import assert from "node:assert/strict";
import { type ExtractOptions, extractTar, TarExtractor } from "../../src/transfer/extract.ts";
import { buildArchive, type BuildEntry, chunked } from "./tar_builder.ts";
import { type Snapshot, snapshot } from "./tree.ts";

interface Scene {
  base: string;
  target: string;
  outside: string;
}

/** base/{target,outside}: outside holds a file, a directory and a file named like the payloads. */
async function withScene(fn: (scene: Scene) => Promise<void>): Promise<void> {
  const base = await Deno.makeTempDir({ prefix: "kubehook-hostile-" });
  try {
    const scene = { base, target: `${base}/target`, outside: `${base}/outside` };
    await Deno.mkdir(scene.target);
    await Deno.mkdir(`${scene.outside}/dir`, { recursive: true });
    await Deno.writeTextFile(`${scene.outside}/secret`, "do not touch\n");
    await fn(scene);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

/** Extracts `entries` and checks that everything outside `target` is exactly as before. */
async function extractHostile(scene: Scene, entries: BuildEntry[], options?: ExtractOptions) {
  const before = await outsideView(scene);
  const report = await extractTar(chunked(buildArchive(entries), 333), scene.target, options);
  assert.deepEqual(await outsideView(scene), before, "something outside the target changed");
  return report;
}

async function outsideView(scene: Scene) {
  const all = await snapshot(scene.base);
  const outside = Object.entries(all).filter(([p]) => p !== "target" && !p.startsWith("target/"));
  const tmpProbe = await Deno.lstat("/tmp/kubehook-escaped").then(() => true, () => false);
  return { outside: Object.fromEntries(outside), tmpProbe };
}

function rejectedNames(report: { rejected: { name: string }[] }): string[] {
  return report.rejected.map((r) => r.name);
}

Deno.test("CVE-2018-1002100: names with .. or absolute names are refused", async () => {
  await withScene(async (scene) => {
    const report = await extractHostile(scene, [
      { name: "../outside/secret", data: "pwned" },
      { name: "ok/../../outside/new", data: "pwned" },
      { name: "/tmp/kubehook-escaped", data: "pwned" },
      { name: "fine.txt", data: "kept" },
    ]);
    assert.deepEqual(rejectedNames(report), [
      "../outside/secret",
      "ok/../../outside/new",
      "/tmp/kubehook-escaped",
    ]);
    assert.match(report.rejected[0].reason, /"\.\." component/);
    assert.match(report.rejected[2].reason, /absolute/);
    assert.equal(await Deno.readTextFile(`${scene.target}/fine.txt`), "kept");
  });
});

Deno.test("CVE-2019-1002101: a symlink in the archive, then a file through it", async () => {
  await withScene(async (scene) => {
    const report = await extractHostile(scene, [
      { name: "up", typeflag: "2", linkname: "../outside" },
      { name: "abs", typeflag: "2", linkname: scene.outside },
      { name: "inside", typeflag: "2", linkname: "sub" },
      { name: "sub/", typeflag: "5" },
      { name: "inside/payload", data: "through an inside link" },
      { name: "up/secret", data: "pwned" },
    ]);
    assert.deepEqual(rejectedNames(report), ["up", "abs", "inside/payload"]);
    assert.match(report.rejected[2].reason, /through the symbolic link "inside"/);
    // "up" was refused, so "up/secret" lands in a real directory inside the target.
    assert.equal(await Deno.readTextFile(`${scene.target}/up/secret`), "pwned");
    assert.equal((await Deno.lstat(`${scene.target}/up`)).isDirectory, true);
  });
});

Deno.test("CVE-2019-11246: relative links that climb out, directly or as a chain", async () => {
  await withScene(async (scene) => {
    const report = await extractHostile(scene, [
      { name: "a/b/c", typeflag: "2", linkname: "../../../outside/secret" },
      { name: "a/b/root", typeflag: "2", linkname: "../.." },
      { name: "chain", typeflag: "2", linkname: "a/b/root/.." },
      { name: "chain/secret", data: "pwned" },
    ]);
    assert.deepEqual(rejectedNames(report), ["a/b/c", "chain/secret", "chain"]);
    assert.match(report.rejected.at(-1)!.reason, /resolves outside/);
    assert.equal(await Deno.lstat(`${scene.target}/chain`).catch(() => null), null);
    assert.equal(await Deno.readLink(`${scene.target}/a/b/root`), "../..");
  });
});

Deno.test("a chain whose end does not exist yet still may not lead out", async () => {
  await withScene(async (scene) => {
    // Each link is harmless by its text; the kernel resolves up/../.. through `up`, one level
    // higher than the text says, so a later write to `x` would create base/not-yet.
    const report = await extractHostile(scene, [
      { name: "a/b/up", typeflag: "2", linkname: ".." },
      { name: "x", typeflag: "2", linkname: "a/b/up/../../not-yet" },
      { name: "y", typeflag: "2", linkname: "a/b/up/../inside-later" },
    ]);
    assert.deepEqual(rejectedNames(report), ["x"]);
    assert.match(report.rejected[0].reason, /resolves outside/);
    assert.equal(await Deno.lstat(`${scene.target}/x`).catch(() => null), null);
    assert.equal(await Deno.readLink(`${scene.target}/y`), "a/b/up/../inside-later");
  });
});

Deno.test("an entry may not replace a directory that holds a protected path", async () => {
  await withScene(async (scene) => {
    await Deno.mkdir(`${scene.target}/_temp/_runner_hook_responses`, { recursive: true });
    await Deno.writeTextFile(`${scene.target}/_temp/_runner_hook_responses/r.json`, "");
    await Deno.writeTextFile(`${scene.target}/kept`, "x");
    const report = await extractHostile(scene, [
      { name: "_temp", data: "a file where the runner's directory is" },
      { name: "other", typeflag: "1", linkname: "_temp/_runner_hook_responses/r.json" },
    ], { protect: ["_temp/_runner_hook_responses"] });
    assert.deepEqual(rejectedNames(report), ["_temp", "other"]);
    assert.ok((await Deno.stat(`${scene.target}/_temp/_runner_hook_responses/r.json`)).isFile);
  });
});

Deno.test("CVE-2019-11249: links already on disk are never followed, only replaced", async () => {
  await withScene(async (scene) => {
    await Deno.symlink("../outside", `${scene.target}/pre-dir`);
    await Deno.symlink("../outside/secret", `${scene.target}/pre-file`);
    await Deno.symlink("../outside/dir", `${scene.target}/pre-d2`);
    const report = await extractHostile(scene, [
      { name: "pre-dir/secret", data: "pwned" },
      { name: "pre-dir/dir/x", data: "pwned" },
      { name: "pre-file", data: "replaces the link" },
      { name: "pre-d2/", typeflag: "5", mode: 0o777 },
      { name: "pre-d2/y", data: "in a real directory now" },
    ]);
    assert.deepEqual(rejectedNames(report), ["pre-dir/secret", "pre-dir/dir/x"]);
    assert.equal((await Deno.lstat(`${scene.target}/pre-file`)).isFile, true);
    assert.equal(await Deno.readTextFile(`${scene.target}/pre-file`), "replaces the link");
    assert.equal((await Deno.lstat(`${scene.target}/pre-d2`)).isDirectory, true);
  });
});

Deno.test("hard links may only point at regular files already inside the target", async () => {
  await withScene(async (scene) => {
    await Deno.symlink("../outside/secret", `${scene.target}/pre-link`);
    const report = await extractHostile(scene, [
      { name: "h1", typeflag: "1", linkname: "../outside/secret" },
      { name: "h2", typeflag: "1", linkname: "/etc/passwd" },
      { name: "h3", typeflag: "1", linkname: "pre-link" },
      { name: "h4", typeflag: "1", linkname: "not-yet" },
      { name: "h5", typeflag: "1", linkname: "h5" },
      { name: "real", data: "x" },
      { name: "h6", typeflag: "1", linkname: "real" },
    ]);
    assert.deepEqual(rejectedNames(report), ["h1", "h2", "h3", "h4", "h5"]);
    assert.equal((await Deno.stat(`${scene.target}/h6`)).nlink, 2);
  });
});

Deno.test("devices, FIFOs and unknown types are refused; setuid bits are dropped", async () => {
  await withScene(async (scene) => {
    const report = await extractHostile(scene, [
      { name: "null", typeflag: "3" },
      { name: "disk", typeflag: "4" },
      { name: "pipe", typeflag: "6" },
      { name: "sparse", typeflag: "S" },
      { name: "suid", data: "#!/bin/sh\n", mode: 0o4755 },
    ]);
    assert.deepEqual(rejectedNames(report), ["null", "disk", "pipe", "sparse"]);
    assert.match(report.rejected[0].reason, /device node/);
    assert.match(report.rejected[2].reason, /FIFO/);
    assert.equal((await Deno.stat(`${scene.target}/suid`)).mode! & 0o7777, 0o755);
  });
});

Deno.test("PAX and GNU long names are checked like plain names", async () => {
  await withScene(async (scene) => {
    const report = await extractHostile(scene, [
      { name: "innocent", data: "pwned", pax: { path: "../outside/secret" } },
      { name: "innocent2", data: "pwned", gnuLongName: "x/../../outside/secret" },
      { name: "l", typeflag: "2", pax: { linkpath: "/etc" } },
    ]);
    assert.deepEqual(rejectedNames(report), [
      "../outside/secret",
      "x/../../outside/secret",
      "l",
    ]);
  });
});

Deno.test("a directory's late metadata is not applied through a link that replaced it", async () => {
  await withScene(async (scene) => {
    await Deno.mkdir(`${scene.target}/t`, { mode: 0o755 });
    await Deno.chmod(`${scene.target}/t`, 0o755);
    await extractHostile(scene, [
      { name: "s/", typeflag: "5", mode: 0o777 },
      { name: "s", typeflag: "2", linkname: "t" },
    ]);
    assert.equal((await Deno.stat(`${scene.target}/t`)).mode! & 0o777, 0o755);
  });
});

Deno.test("a truncated stream is an error; entries before it stay", async () => {
  await withScene(async (scene) => {
    const archive = buildArchive([{ name: "first", data: "1" }, {
      name: "second",
      data: "x".repeat(2000),
    }]);
    await assert.rejects(
      extractTar(chunked(archive.subarray(0, 1600)), scene.target),
      /in the middle of an entry/,
    );
    assert.equal(await Deno.readTextFile(`${scene.target}/first`), "1");
  });
});

/** A listing member as a hostile pod may send it: NUL-terminated records, taken as they are. */
function listing(...records: string[]): BuildEntry {
  return { name: "./.kubehook/listing", data: records.map((r) => `${r}\0`).join("") };
}

const PROTECT = [".kubehook", "_temp/_runner_hook_responses"];

Deno.test("hostile listings: .., absolute names, links and protected paths remove nothing", async () => {
  await withScene(async (scene) => {
    const t = scene.target;
    for (
      const file of [
        "keep.txt",
        "stale.txt",
        "dir/a",
        ".kubehook/env",
        "_temp/_runner_hook_responses/r.json",
      ]
    ) {
      await Deno.mkdir(`${t}/${file}`.replace(/\/[^/]*$/, ""), { recursive: true });
      await Deno.writeTextFile(`${t}/${file}`, file);
    }
    await Deno.symlink("../outside", `${t}/up`);
    const report = await extractHostile(scene, [
      { name: "new.txt", data: "written by this archive, missing from the listing" },
      { name: "l2", typeflag: "2", linkname: "dir" },
      { name: ".kubehook/planted", data: "bookkeeping is never written" },
      listing(
        "/.",
        "./../outside/.",
        "./up/.",
        "./up/dir/.",
        "./l2/.",
        "./.kubehook/.",
        "./_temp/.",
        "./dir/.",
        "./dir/./../../outside/secret",
        "./.",
        "././keep.txt",
        "././dir",
        "././up",
        "././l2",
      ),
    ], { protect: PROTECT, listing: true });
    assert.deepEqual(rejectedNames(report).sort(), [
      "./../outside",
      "./dir",
      ".kubehook",
      ".kubehook/planted",
      "/.",
      "l2",
      "up",
      "up/dir",
    ]);
    // Removed: only what the root's listing left out, inside the target and not protected.
    assert.equal(report.deleted, 1);
    assert.deepEqual(Object.keys(await snapshot(t)).sort(), [
      ".kubehook",
      ".kubehook/env",
      "_temp",
      "_temp/_runner_hook_responses",
      "_temp/_runner_hook_responses/r.json",
      "dir",
      "dir/a",
      "keep.txt",
      "l2",
      "new.txt",
      "up",
    ]);
  });
});

Deno.test("a listing is only read when asked for; without it the member is plain bookkeeping", async () => {
  await withScene(async (scene) => {
    await Deno.writeTextFile(`${scene.target}/stays.txt`, "x");
    const report = await extractHostile(scene, [listing("./.")], { protect: PROTECT });
    assert.equal(report.deleted, 0);
    assert.deepEqual(rejectedNames(report), ["./.kubehook/listing"]);
    assert.equal(await Deno.readTextFile(`${scene.target}/stays.txt`), "x");
  });
});

Deno.test("a link that points below a file a later member makes is no error", async () => {
  // Found by extract_property_test.ts: resolving the link met ENOTDIR and aborted the copy.
  await withScene(async (scene) => {
    const report = await extractHostile(scene, [
      { name: "b", typeflag: "2", linkname: "über/dir" },
      { name: "über", data: "a file, not a directory" },
      { name: "after.txt", data: "still extracted" },
    ]);
    assert.deepEqual(rejectedNames(report), []);
    assert.equal(await Deno.readTextFile(`${scene.target}/after.txt`), "still extracted");
    assert.equal(await Deno.readLink(`${scene.target}/b`), "über/dir");
  });
});

Deno.test("TarExtractor fed views of one reused buffer extracts what extractTar does", async () => {
  // The copy back hands the extractor views of the exec's receive buffer, valid only during the
  // call: here each piece is written into the same buffer, overwritten by the next one.
  const entries: BuildEntry[] = [
    { name: "dir/", typeflag: "5", mode: 0o750 },
    { name: "dir/a.txt", data: "a".repeat(5000), mode: 0o640 },
    { name: "dir/link", typeflag: "2", linkname: "a.txt" },
    { name: "../escape", data: "refused" },
    { name: "new\nline", data: "x".repeat(700) },
    { name: "p", pax: { path: `${"long/".repeat(40)}name` }, data: "pax" },
  ];
  const archive = buildArchive(entries);
  await withScene(async (scene) => {
    // The directories the pax path implies carry the time they were made, which differs between
    // the two extractions when a second boundary falls between them.
    const named = (snap: Snapshot): Snapshot =>
      Object.fromEntries(
        Object.entries(snap).map((
          [path, v],
        ) => [path, path.startsWith("long") ? { ...v, mtime: undefined } : v]),
      );
    const streamed = await extractTar(chunked(archive, 333), scene.target);
    const byStream = named(await snapshot(scene.target));
    await Deno.remove(scene.target, { recursive: true });
    await Deno.mkdir(scene.target);
    const extractor = new TarExtractor(scene.target);
    const buffer = new Uint8Array(333);
    for (let pos = 0; pos < archive.length; pos += buffer.length) {
      const piece = archive.subarray(pos, pos + buffer.length);
      buffer.set(piece);
      extractor.push(buffer.subarray(0, piece.length));
      buffer.fill(0xff);
    }
    const pushed = extractor.finish();
    assert.deepEqual(named(await snapshot(scene.target)), byStream);
    assert.deepEqual(pushed, streamed);
    assert.deepEqual(rejectedNames(pushed), ["../escape"]);
  });
});

Deno.test("a hard link of a path to itself (GNU tar given the path twice) changes nothing", async () => {
  await withScene(async (scene) => {
    const report = await extractHostile(scene, [
      { name: "dir/file", data: "kept" },
      { name: "dir/file", typeflag: "1", linkname: "dir/file" },
      { name: "./dir/file", typeflag: "1", linkname: "dir/file" },
    ]);
    assert.deepEqual(rejectedNames(report), []);
    assert.equal(await Deno.readTextFile(`${scene.target}/dir/file`), "kept");
  });
});
