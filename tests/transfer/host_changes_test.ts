/** Host change detection: what the runner changed under `<work>` since a sync mark. */
import assert from "node:assert/strict";
import { hostListings, listHostChanges, syncMarkNow } from "../../src/transfer/host_changes.ts";
import { packHostTree } from "../../src/transfer/host_pack.ts";

async function withWork(fn: (work: string) => Promise<void>): Promise<void> {
  const work = await Deno.makeTempDir({ prefix: "kubehook-changes-" });
  try {
    await fn(work);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/** Lets the filesystem clock move on (a tick is at most 10 ms), as it does between the runner's
 * writes and a hook call: writes in the same tick as a mark count as changes on purpose. */
function nextTick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 20));
}

async function write(path: string, text: string, mtime?: number): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, text);
  if (mtime !== undefined) await Deno.utime(path, mtime, mtime);
}

Deno.test("nothing listed when nothing changed since the mark", async () => {
  await withWork(async (work) => {
    for (let d = 0; d < 20; d++) {
      for (let f = 0; f < 50; f++) await write(`${work}/repo/d${d}/f${f}.txt`, `${d}/${f}`);
    }
    await nextTick();
    const mark = await syncMarkNow();
    assert.deepEqual(await listHostChanges(work, mark), { paths: [], rawPaths: [], dirs: [] });
  });
});

Deno.test("new, edited and old-mtime files, and moved directories with their contents", async () => {
  await withWork(async (work) => {
    await write(`${work}/repo/kept.txt`, "kept");
    await write(`${work}/repo/edited.txt`, "v1");
    await write(`${work}/_actions/_temp_1/pkg/action.yml`, "name: x", 1_500_000_000);
    await write(`${work}/_actions/_temp_1/pkg/dist/index.js`, "js", 1_500_000_000);
    await Deno.utime(`${work}/_actions/_temp_1/pkg/dist`, 1_500_000_000, 1_500_000_000);
    await Deno.utime(`${work}/_actions/_temp_1/pkg`, 1_500_000_000, 1_500_000_000);
    await write(`${work}/_temp/_runner_hook_responses/r1.json`, "");
    await nextTick();
    const mark = await syncMarkNow();

    // What the runner does between two hook calls.
    await write(`${work}/repo/edited.txt`, "v2");
    await write(`${work}/_temp/abc.sh`, "echo hi");
    await write(`${work}/_temp/_runner_file_commands/set_env_x`, "");
    await write(`${work}/_temp/_github_workflow/event.json`, "{}", 1_400_000_000);
    await Deno.mkdir(`${work}/_actions/owner`);
    await Deno.rename(`${work}/_actions/_temp_1/pkg`, `${work}/_actions/owner/pkg`);
    await write(`${work}/_temp/_runner_hook_responses/r2.json`, "");

    const changed = await listHostChanges(work, mark, {
      exclude: ["_temp/_runner_hook_responses"],
    });
    // An edited file changes no directory; "repo" is not among them.
    assert.deepEqual(changed.dirs.sort(), [
      "_actions",
      "_actions/_temp_1",
      "_actions/owner",
      "_actions/owner/pkg",
      "_temp",
      "_temp/_github_workflow",
      "_temp/_runner_file_commands",
    ]);
    assert.deepEqual(changed.paths.sort(), [
      "_actions",
      "_actions/_temp_1",
      "_actions/owner",
      "_actions/owner/pkg",
      "_actions/owner/pkg/action.yml",
      "_actions/owner/pkg/dist",
      "_actions/owner/pkg/dist/index.js",
      "_temp",
      "_temp/_github_workflow",
      "_temp/_github_workflow/event.json",
      "_temp/_runner_file_commands",
      "_temp/_runner_file_commands/set_env_x",
      "_temp/abc.sh",
      "repo/edited.txt",
    ]);
  });
});

Deno.test("files kubehook wrote before taking the mark are not listed again", async () => {
  await withWork(async (work) => {
    await write(`${work}/repo/a.txt`, "a");
    await nextTick();
    const first = await syncMarkNow();
    await write(`${work}/repo/copied-back.txt`, "from the pod");
    await nextTick();
    const second = await syncMarkNow();
    assert.deepEqual((await listHostChanges(work, first)).paths.sort(), [
      "repo",
      "repo/copied-back.txt",
    ]);
    assert.deepEqual((await listHostChanges(work, second)).paths, []);
  });
});

Deno.test("names with spaces, newlines and glob characters are listed exactly", async () => {
  await withWork(async (work) => {
    const mark = await syncMarkNow();
    await write(`${work}/odd [x]*?/new\nline -rf`, "x");
    assert.deepEqual(
      (await listHostChanges(work, mark, { exclude: ["odd [x]*?/skip"] })).paths.sort(),
      [
        "odd [x]*?",
        "odd [x]*?/new\nline -rf",
      ],
    );
  });
});

Deno.test("deletions show as changed directories, listed with what they hold now", async () => {
  await withWork(async (work) => {
    await write(`${work}/repo/kept.txt`, "kept");
    await write(`${work}/repo/gone.txt`, "gone");
    await write(`${work}/repo/old dir/x`, "x");
    await write(`${work}/other/untouched.txt`, "u");
    await nextTick();
    const mark = await syncMarkNow();
    await Deno.remove(`${work}/repo/gone.txt`);
    await Deno.remove(`${work}/repo/old dir`, { recursive: true });
    const changed = await listHostChanges(work, mark);
    assert.deepEqual(changed, { paths: ["repo"], rawPaths: [], dirs: ["repo"] });
    assert.deepEqual(hostListings(work, changed.dirs, ["repo/agent.sock", "other/link"]), [
      { dir: "repo", names: ["kept.txt", "agent.sock"] },
    ]);
    // Gone since it was found: left out, so the pod removes nothing there.
    assert.deepEqual(hostListings(work, ["vanished"]), []);
  });
});

Deno.test("sockets are not listed: tar cannot archive them", async () => {
  await withWork(async (work) => {
    const mark = await syncMarkNow();
    const listener = Deno.listen({ transport: "unix", path: `${work}/agent.sock` });
    try {
      await write(`${work}/file`, "f");
      assert.deepEqual((await listHostChanges(work, mark)).paths, ["file"]);
    } finally {
      listener.close();
    }
  });
});

Deno.test("names that are not UTF-8 are listed as their bytes, and tar packs them", async () => {
  await withWork(async (work) => {
    // Latin-1 names, as an action's tarball may hold them: Deno cannot even write them, so sh does.
    const sh = (script: string) =>
      new Deno.Command("sh", { args: ["-c", script], cwd: work, env: { LC_ALL: "C" } }).output();
    await sh(
      `mkdir -p "old/$(printf 'd\\351j\\340')/in" && echo x > "old/$(printf 'd\\351j\\340')/in/f"`,
    );
    await sh("mkdir -p valid && touch -d @1500000000 valid");
    await nextTick();
    const mark = await syncMarkNow();
    await sh(`printf x > "$(printf 'caf\\351')" && printf y > "valid/$(printf '\\377\\nz')"`);
    // Moved: a directory whose name is not UTF-8, and one whose is, each with what they hold.
    await sh(`mkdir moved && mv "old/$(printf 'd\\351j\\340')" "moved/$(printf 'd\\351j\\340')"`);
    await sh("mv valid renamed");
    const changed = await listHostChanges(work, mark);
    const latin1 = (bytes: Uint8Array) => new TextDecoder("latin1").decode(bytes);
    assert.deepEqual(changed.rawPaths.map(latin1).sort(), [
      "café",
      "moved/déjà",
      "moved/déjà/in",
      "moved/déjà/in/f",
      "renamed/\xff\nz",
    ]);
    assert.deepEqual(changed.paths.sort(), ["moved", "old", "renamed"]);
    // No listing for a directory not UTF-8; listings of its parents leave it alone (hostListings).
    assert.deepEqual(changed.dirs.sort(), ["", "moved", "old", "renamed"]);

    const archive = await packHostTree(work, { paths: changed.paths, rawPaths: changed.rawPaths });
    const listing = new Deno.Command("tar", {
      args: ["--list", "--quoting-style=escape", "--file=-"],
      env: { LC_ALL: "C" },
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    await archive.stream.pipeTo(listing.stdin);
    const names = new TextDecoder().decode((await listing.output()).stdout).trim().split("\n");
    assert.deepEqual(await archive.done, { warnings: "" });
    assert.deepEqual(names.sort(), [
      "caf\\351",
      "moved/",
      "moved/d\\351j\\340/",
      "moved/d\\351j\\340/in/",
      "moved/d\\351j\\340/in/f",
      "old/",
      "renamed/",
      "renamed/\\377\\nz",
    ]);
  });
});
