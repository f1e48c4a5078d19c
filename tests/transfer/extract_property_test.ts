/**
 * Property tests of the host extractor, seeded (KUBEHOOK_PROPERTY_SEED repeats a run): archives a
 * hostile pod could send — random members (names with `..`, absolute names, long and non-ASCII
 * names; files, directories, symbolic and hard links to anywhere, devices, FIFOs; PAX records) and
 * well-formed archives with random bytes changed, cut or repeated. Whatever arrives, extraction
 * ends with a report or a TarFormatError, nothing outside the target changes, and no link left in
 * the target leads out of it.
 */
import assert from "node:assert/strict";
import { extractTar } from "../../src/transfer/extract.ts";
import { TarFormatError } from "../../src/transfer/tar_reader.ts";
import { generator, testSeed } from "../support/random.ts";
import { buildArchive, type BuildEntry, chunked } from "./tar_builder.ts";
import { snapshot } from "./tree.ts";

const ARCHIVES = 150;
const MUTATIONS = 150;

const NAME_PARTS = [
  "a",
  "b",
  "..",
  ".",
  "",
  "dir",
  "über",
  "日本",
  "x".repeat(120),
  "_temp",
  "lnk",
];
const LINK_TARGETS = ["..", "../..", "/", "/etc", "a", "../outside", "lnk/..", "a/../..", "."];

function randomEntries(random: () => number): BuildEntry[] {
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
  const name = () => {
    const parts = Array.from({ length: 1 + Math.floor(random() * 4) }, () => pick(NAME_PARTS));
    return (random() < 0.1 ? "/" : "") + parts.join("/");
  };
  return Array.from({ length: 1 + Math.floor(random() * 12) }, (): BuildEntry => {
    const kind = pick(["0", "0", "5", "2", "2", "1", "3", "6", "x"]);
    const entry: BuildEntry = { name: name() || "f", typeflag: kind === "x" ? "0" : kind };
    if (kind === "0" || kind === "x") entry.data = "payload ".repeat(Math.floor(random() * 100));
    if (kind === "2") entry.linkname = random() < 0.5 ? pick(LINK_TARGETS) : name();
    if (kind === "1") entry.linkname = random() < 0.3 ? "../outside/secret" : name();
    if (kind === "x") entry.pax = { path: name() || "p", ...(random() < 0.3 ? { size: "7" } : {}) };
    if (random() < 0.1) entry.mode = Math.floor(random() * 0o10000);
    return entry;
  });
}

function mutate(archive: Uint8Array, random: () => number): Uint8Array {
  const bytes = archive.slice();
  const how = random();
  if (how < 0.6) {
    for (let i = 0; i < 1 + random() * 8; i++) {
      bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    }
    return bytes;
  }
  if (how < 0.8) return bytes.subarray(0, Math.floor(random() * bytes.length));
  // A block repeated: a member's header twice, or data where a header should be.
  const block = Math.floor(random() * (bytes.length / 512)) * 512;
  const repeated = new Uint8Array(bytes.length + 512);
  repeated.set(bytes.subarray(0, block + 512));
  repeated.set(bytes.subarray(block), block + 512);
  return repeated;
}

/** Every symbolic link under `target` whose kernel resolution lands outside it. */
async function linksOut(target: string, dir = target): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isSymlink) {
      const real = await Deno.realPath(path).catch(() => undefined);
      if (real !== undefined && real !== target && !real.startsWith(`${target}/`)) {
        out.push(`${path} -> ${real}`);
      }
    } else if (entry.isDirectory) {
      out.push(...await linksOut(target, path));
    }
  }
  return out;
}

Deno.test("hostile archives, random and mutated: contained, reported, never out", async () => {
  const seed = testSeed("KUBEHOOK_PROPERTY_SEED");
  const random = generator(seed);
  const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "kubehook-property-" }));
  try {
    await Deno.mkdir(`${base}/outside/dir`, { recursive: true });
    await Deno.writeTextFile(`${base}/outside/secret`, "do not touch\n");
    const outsideBefore = await snapshot(`${base}/outside`);
    let formatErrors = 0;
    let rejected = 0;
    for (let i = 0; i < ARCHIVES + MUTATIONS; i++) {
      const target = `${base}/t${i}`;
      await Deno.mkdir(target);
      const entries = randomEntries(random);
      let archive = buildArchive(entries);
      if (i >= ARCHIVES) archive = mutate(archive, random);
      const what = `archive ${i} (seed ${seed}): ${JSON.stringify(entries.map((e) => e.name))}`;
      try {
        const report = await extractTar(chunked(archive, 1 + Math.floor(random() * 700)), target, {
          protect: ["_temp/_runner_hook_responses"],
        });
        rejected += report.rejected.length;
      } catch (error) {
        if (!(error instanceof TarFormatError)) {
          throw new Error(`${what}: not a TarFormatError: ${(error as Error).stack}`);
        }
        formatErrors++;
      }
      assert.deepEqual(
        await snapshot(`${base}/outside`),
        outsideBefore,
        `${what}: outside changed`,
      );
      assert.deepEqual(await linksOut(target), [], `${what}: a link leads out of the target`);
      assert.equal(
        await Deno.lstat(`${target}/_temp/_runner_hook_responses`).then(() => true, () => false),
        false,
        `${what}: a protected path was written`,
      );
      await Deno.remove(target, { recursive: true });
    }
    console.log(
      `${ARCHIVES} random and ${MUTATIONS} mutated archives: ${rejected} members refused, ` +
        `${formatErrors} archives refused as malformed`,
    );
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});
