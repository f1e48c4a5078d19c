/**
 * Deletions and verified uploads without a cluster, with GNU tools and with busybox alone:
 * `copyFromPod` with a listing removes on the host what the pod deleted (and nothing else), the
 * pod's prune fragment removes what the host's listing does not name (but keeps the pod's own
 * news, protected paths, and never works through a link), and the extract fragment refuses an
 * upload whose entry count it was told and tar did not list.
 */
import assert from "node:assert/strict";
import { hostListings, listHostChanges, syncMarkNow } from "../../src/transfer/host_changes.ts";
import { packHostTree } from "../../src/transfer/host_pack.ts";
import { podExtractScript, podMarkScript } from "../../src/transfer/pod_scripts.ts";
import { podPruneListing, podPruneScript } from "../../src/transfer/pod_prune.ts";
import { parseReceipt, type SentCount } from "../../src/transfer/receipt.ts";
import { sendArchive } from "../../src/transfer/send_archive.ts";
import { bringBack, type Flavor, localPod, withDirs } from "./local_pod.ts";
import { makeFidelityTree, snapshot } from "./tree.ts";

const HOUR_AGO = new Date(Date.now() - 3600_000);

/** The same small tree of odd names in each of `roots`, with old mtimes (busybox markers are
 * whole seconds, set back one or two: older files are certainly not news). */
async function oddTree(...roots: string[]): Promise<void> {
  const files = [
    "keep.txt",
    "gone.txt",
    "-rf",
    "new\nline",
    "dir with space/inner.txt",
    "gone dir/a/b.txt",
    "sub/x",
    "sub/ünï ✓",
  ];
  for (const root of roots) {
    for (const file of files) {
      const path = `${root}/${file}`;
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(path, file);
    }
    for (const path of Object.keys(await snapshot(root)).sort().reverse()) {
      await Deno.utime(`${root}/${path}`, HOUR_AGO, HOUR_AGO);
    }
  }
}

async function sh(flavor: Flavor, script: string): Promise<void> {
  await using pod = await localPod(flavor);
  const { code, stderr } = await pod.run(script);
  assert.equal(code, 0, stderr);
}

/** Sends `paths` of `host` into `pod` through the extract fragment told to `expect` them, as a
 * step's upload is checked in the pod. That check is not `copyToPod`'s (the host checks its
 * receipt) but a step's exec's, so this runs the fragment itself, on the local pod's exec. */
async function sendExpecting(
  flavor: Flavor,
  host: string,
  pod: string,
  paths: string[],
  expect: SentCount,
) {
  await using local = await localPod(flavor);
  const archive = await packHostTree(host, { paths });
  const session = await local.exec({
    ...local.target,
    command: ["sh", "-c", podExtractScript(pod, { gzip: false, expect })],
    stdin: true,
  });
  const sent = sendArchive(archive, session.stdin!, { gzip: false });
  const [result, , stderr] = await Promise.all([
    session.result,
    session.stdout.cancel(),
    new Response(session.stderr).text(),
    archive.done,
    sent.done.catch(() => {}),
  ]);
  if (result.kind === "lost") throw new Error(`the local exec was lost: ${result.reason}`);
  return { code: result.exitCode, messages: parseReceipt(stderr).messages, count: sent.count };
}

function names(tree: Record<string, unknown>): string[] {
  return Object.keys(tree).sort();
}

for (const flavor of ["gnu", "busybox"] as const) {
  Deno.test(`${flavor}: what the pod deleted after the marker is removed on the host`, async () => {
    await withDirs(async ({ pod, back }) => {
      await Deno.mkdir(pod, { recursive: true });
      await oddTree(pod, back);
      await Deno.mkdir(`${back}/.kubehook/steps`, { recursive: true });
      const marker = `${pod}/../marks/step`;
      await sh(flavor, podMarkScript(marker));
      for (const gone of ["gone.txt", "-rf", "new\nline", "gone dir", "sub/ünï ✓"]) {
        await Deno.remove(`${pod}/${gone}`, { recursive: true });
      }
      await Deno.writeTextFile(`${pod}/sub/new.txt`, "new");
      // `exclude` is also what the host's extractor protects.
      const got = await bringBack(flavor, pod, back, {
        since: marker,
        exclude: [".kubehook"],
        listing: true,
        gzip: flavor === "busybox",
      });
      assert.deepEqual(got.rejected, []);
      assert.equal(got.deleted, 5);
      const expected = names(await snapshot(pod)).filter((p) => !p.startsWith(".kubehook"));
      assert.deepEqual(
        names(await snapshot(back)),
        [
          ".kubehook",
          ".kubehook/steps",
          ...expected,
        ].sort(),
      );
      assert.deepEqual(got.listed?.podOnly, []);
    });
  });

  Deno.test(`${flavor}: listings in several batches, small and large, all arrive`, async () => {
    await withDirs(async ({ pod, back }) => {
      // 40 directories: more than a small batch (32) takes.
      const files = Array.from({ length: 40 }, (_, i) => [`d${i}/gone`, `d${i}/kept`]).flat();
      await oddTree(pod, back);
      for (const root of [pod, back]) {
        for (const file of files) {
          await Deno.mkdir(`${root}/${file.split("/")[0]}`, { recursive: true });
          await Deno.writeTextFile(`${root}/${file}`, file);
        }
      }
      const marker = `${pod}/../marks/step`;
      await sh(flavor, podMarkScript(marker));
      for (const file of files.filter((f) => f.endsWith("gone"))) {
        await Deno.remove(`${pod}/${file}`);
      }
      // GNU: a directory moved in takes a batch of its own, so the listing is made in two.
      await Deno.mkdir(`${pod}/../moved`);
      await Deno.writeTextFile(`${pod}/../moved/inner`, "moved");
      await Deno.utime(`${pod}/../moved`, HOUR_AGO, HOUR_AGO);
      await Deno.rename(`${pod}/../moved`, `${pod}/sub/moved`);
      await Deno.remove(`${pod}/sub/x`);
      const got = await bringBack(flavor, pod, back, { since: marker, listing: true });
      assert.equal(got.deleted, 41);
      const listed = names(await snapshot(pod)).filter((p) => !p.startsWith(".kubehook"));
      assert.deepEqual(names(await snapshot(back)), listed);
    });
  });

  Deno.test(`${flavor}: a whole pack with a listing mirrors the pod, protected paths kept`, async () => {
    await withDirs(async ({ pod, back }) => {
      await Deno.mkdir(pod, { recursive: true });
      await oddTree(pod);
      await Deno.writeTextFile(`${back}/host-only.txt`, "never in the pod");
      await Deno.mkdir(`${back}/sub/host-only dir`, { recursive: true });
      await Deno.mkdir(`${back}/_temp/_runner_hook_responses`, { recursive: true });
      await Deno.writeTextFile(`${back}/_temp/_runner_hook_responses/r.json`, "");
      await Deno.symlink("/etc/hostname", `${pod}/abs-link`);
      // As cleanup_job's copy back: what it leaves out in the pod, the host's extractor protects.
      const got = await bringBack(flavor, pod, back, {
        exclude: [".kubehook", "_temp/_runner_hook_responses"],
        listing: true,
      });
      assert.equal(got.deleted, 2);
      assert.deepEqual(got.listed?.podOnly, ["abs-link"]);
      assert.deepEqual(
        names(await snapshot(back)),
        [
          ...names(await snapshot(pod)).filter((p) =>
            p !== "abs-link" && !p.startsWith(".kubehook")
          ),
          "_temp",
          "_temp/_runner_hook_responses",
          "_temp/_runner_hook_responses/r.json",
        ].sort(),
      );
    });
  });

  Deno.test(`${flavor}: the pod removes what the host's listing does not name`, async () => {
    await withDirs(async ({ host, pod, back }) => {
      await Deno.mkdir(pod, { recursive: true });
      await oddTree(host, pod);
      await Deno.mkdir(`${pod}/.kubehook/steps/s1`, { recursive: true });
      await Deno.mkdir(`${back}/outside`);
      await Deno.writeTextFile(`${back}/outside/secret`, "untouched");
      await Deno.mkdir(`${host}/linked`);
      await Deno.symlink(`${back}/outside`, `${pod}/linked`);
      await Deno.writeTextFile(`${pod}/sub/agent.sock`, "pod-only: the host never got it");
      const since = `${pod}/../marks/back`;
      await sh(flavor, podMarkScript(since));
      await Deno.writeTextFile(`${pod}/sub/news.txt`, "written in the pod after the last sync");

      const mark = await syncMarkNow();
      for (const gone of ["gone.txt", "-rf", "new\nline", "gone dir", "sub/x"]) {
        await Deno.remove(`${host}/${gone}`, { recursive: true });
      }
      await Deno.writeTextFile(`${host}/linked/new`, "makes the linked directory listed");
      const { dirs } = await listHostChanges(host, mark);
      assert.deepEqual(dirs.sort(), ["", "linked", "sub"]);
      const listing = `${pod}/.kubehook/steps/s1/listing`;
      await Deno.writeTextFile(
        listing,
        podPruneListing(hostListings(host, dirs, ["sub/agent.sock"]), [".kubehook"]),
      );
      await sh(flavor, podPruneScript(pod, listing, since));

      // The skeleton stays with the step's directory, which the next step removes.
      const left = names(await snapshot(pod)).filter((p) => !p.includes("listing.keep"));
      assert.deepEqual(left, [
        ".kubehook",
        ".kubehook/steps",
        ".kubehook/steps/s1",
        ".kubehook/steps/s1/listing",
        "dir with space",
        "dir with space/inner.txt",
        "keep.txt",
        "linked",
        "sub",
        "sub/agent.sock",
        "sub/news.txt",
        "sub/ünï ✓",
      ]);
      assert.equal(await Deno.readTextFile(`${back}/outside/secret`), "untouched");
    });
  });

  Deno.test(`${flavor}: a long listing, and names that are patterns: only what is not named goes`, async () => {
    await withDirs(async ({ host, pod }) => {
      // 200 names: past the in-memory lookup, through the skeleton of empty files.
      const many = Array.from({ length: 200 }, (_, i) => `many/f${i}`);
      for (const root of [host, pod]) {
        await Deno.mkdir(`${root}/many`, { recursive: true });
        await Deno.mkdir(`${root}/pat`, { recursive: true });
        for (const file of [...many, "pat/glob"]) await Deno.writeTextFile(`${root}/${file}`, file);
      }
      // Pod-only, old: named by no listing. A child's name used as a pattern would match "glob".
      for (const file of ["many/extra", "pat/g*", "pat/?lob", "pat/[g]lob"]) {
        await Deno.writeTextFile(`${pod}/${file}`, file);
      }
      for (const root of [host, pod]) {
        for (const path of Object.keys(await snapshot(root))) {
          await Deno.utime(`${root}/${path}`, HOUR_AGO, HOUR_AGO);
        }
      }
      const since = `${pod}/../marks/back`;
      await sh(flavor, podMarkScript(since));
      const mark = await syncMarkNow();
      await Deno.remove(`${host}/many/f7`);
      await Deno.writeTextFile(`${host}/pat/new`, "makes pat listed");
      const { dirs } = await listHostChanges(host, mark);
      assert.deepEqual(dirs.sort(), ["many", "pat"]);
      const listing = `${pod}/../listing`;
      await Deno.writeTextFile(listing, podPruneListing(hostListings(host, dirs, [])));
      await sh(flavor, podPruneScript(pod, listing, since));
      assert.deepEqual(
        names(await snapshot(pod)),
        [...many.filter((f) => f !== "many/f7"), "many", "pat", "pat/glob"].sort(),
      );
      // Files are made for the long listing's names only: each costs a disk's metadata write.
      assert.equal((await Array.fromAsync(Deno.readDir(`${listing}.keep/1`))).length, 199);
      await assert.rejects(Deno.stat(`${listing}.keep/2`), Deno.errors.NotFound);
    });
  });

  Deno.test(`${flavor}: an upload whose entry count tar did not list is refused`, async () => {
    await withDirs(async ({ host, pod }) => {
      await makeFidelityTree(host);
      const paths = names(await snapshot(host));
      const sent = { entries: paths.length, nameNewlines: paths.join("").split("\n").length - 1 };
      const ok = await sendExpecting(flavor, host, pod, paths, sent);
      assert.equal(ok.code, 0, ok.messages);
      assert.equal(ok.count.entries, sent.entries);
      // One more than tar lists in either flavor (busybox lists a newline in a name as two lines).
      const claimed = sent.entries + sent.nameNewlines + 1;
      const short = await sendExpecting(flavor, host, pod, paths, {
        entries: claimed,
        nameNewlines: 0,
      });
      assert.notEqual(short.code, 0);
      assert.match(short.messages, /^kubehook: tar in the pod listed \d+ entries but /m);
      assert.ok(
        short.messages.includes(`but ${claimed} were sent while extracting into ${pod}`),
        short.messages,
      );
      assert.match(short.messages, /Use a job image whose tar is GNU tar or busybox tar\.$/);
    });
  });
}
