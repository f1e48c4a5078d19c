import assert from "node:assert/strict";
import { parseListing } from "./dir_listing.ts";

const enc = new TextEncoder();

function records(...parts: string[]): Uint8Array {
  return enc.encode(parts.map((p) => `${p}\0`).join(""));
}

Deno.test("find's -print0 output for D/. reads back per directory, odd names included", () => {
  const names = ["a.txt", "new\nline", "-rf", "with space", "ünï ✓", ".hidden", "..x"];
  const parsed = parseListing(records(
    "./.",
    "././repo",
    "./repo/sub dir/.",
    ...names.map((n) => `./repo/sub dir/./${n}`),
    "./empty/.",
  ));
  assert.deepEqual(parsed.problems, []);
  assert.deepEqual(
    [...parsed.listings].map(([dir, set]) => [dir, [...set]]),
    [["", ["repo"]], ["repo/sub dir", names], ["empty", []]],
  );
});

Deno.test("a directory listed twice is merged", () => {
  const parsed = parseListing(records("./b/.", "./b/./c", "./b/.", "./b/./d"));
  assert.deepEqual([...parsed.listings.get("b")!], ["c", "d"]);
});

Deno.test("a directory with a malformed record is refused as a whole", () => {
  const parsed = parseListing(records(
    "./ok/.",
    "./ok/./kept",
    "./bad/.",
    "./bad/./fine",
    "./bad/./../escape",
    "./other/.",
    "./elsewhere/./x",
    "./dots/.",
    "./dots/./..",
    "./climb/../../.",
    "./climb/../../x",
  ));
  assert.deepEqual([...parsed.listings.keys()], ["ok"]);
  assert.deepEqual(parsed.problems.map((p) => p.name), [
    "./bad",
    "./other",
    "./dots",
    "./climb/../..",
  ]);
  assert.match(
    parsed.problems[0].reason,
    /names "\.\/bad\/\.\/\.\.\/escape", which is not a child/,
  );
  assert.match(parsed.problems[3].reason, /"\.\." component/);
});

Deno.test("records before any directory, invalid UTF-8 and a cut record are refused", () => {
  const bytes = new Uint8Array([
    ...records("./x/./orphan", "./d/.", "./d/./a"),
    ...enc.encode("./d/./"),
    0xff,
    0,
    ...records("./e/.", "./e/./b"),
    ...enc.encode("./e/./cut"),
  ]);
  const parsed = parseListing(bytes);
  assert.deepEqual([...parsed.listings.keys()], []);
  assert.deepEqual(parsed.problems.map((p) => p.name), ["./x/./orphan", "./d", "./e"]);
  assert.match(parsed.problems[1].reason, /not valid UTF-8/);
  assert.match(parsed.problems[2].reason, /middle of a record/);
});

Deno.test("an empty listing lists nothing", () => {
  assert.deepEqual(parseListing(new Uint8Array()), { listings: new Map(), problems: [] });
});
