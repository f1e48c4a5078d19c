/**
 * Deletions cross the incremental sync both ways, driven like the runner, with GNU tools (debian)
 * and with busybox: what a step deletes in the pod is gone from the runner's `<work>` after the
 * step (so `hashFiles()` and post steps see the truth), what the runner deletes between steps is
 * gone from the pod for the next step, and what the pod holds that the runner never got (a link
 * leading out of the workspace, a FIFO) stays in the pod although the runner's listing of its
 * directory cannot name it.
 */
import assert from "node:assert/strict";
import type { RunnerSim } from "../support/runner_sim.ts";
import { jobContainer } from "../support/runner_sim.ts";
import { assertHookOk, HookCluster, logOf } from "./hook_cluster.ts";

/** Odd names, as files and as a directory; each must go and come back exactly. */
const ODD = ["plain.txt", "with space.txt", "new\nline", "-rf", "ünï ✓.txt"];

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** The runner's checkout: files and a directory, written an hour ago (busybox markers are whole
 * seconds set back one or two, so newer files could count as the pod's own news). */
async function checkout(sim: RunnerSim): Promise<void> {
  const hourAgo = new Date(Date.now() - 3600_000);
  for (const name of [...ODD, "old dir/inner.txt", "runner-deletes.txt", "runner dir/x"]) {
    const path = `${sim.workspace}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, name);
    await Deno.utime(path, hourAgo, hourAgo);
  }
  for (const dir of ["old dir", "runner dir"]) {
    await Deno.utime(`${sim.workspace}/${dir}`, hourAgo, hourAgo);
  }
}

/** The shell words of `names`, quoted for `sh`. */
function words(names: string[]): string {
  return names.map((n) => `'${n.replaceAll("'", `'\\''`)}'`).join(" ");
}

async function deletionsBothWays(hc: HookCluster, sim: RunnerSim, image: string): Promise<void> {
  await checkout(sim);
  assertHookOk(
    await sim.prepareJob({ container: jobContainer(image), services: [] }),
    "prepare_job",
  );

  // The step deletes files with odd names and a directory; one file stays.
  const step = await sim.scriptStep(`rm -rf -- ${words([...ODD.slice(1), "old dir"])}\n`);
  assertHookOk(step, "the deleting step");
  for (const gone of [...ODD.slice(1), "old dir"]) {
    assert.equal(await exists(`${sim.workspace}/${gone}`), false, `${gone} is still on the host`);
  }
  assert.equal(await Deno.readTextFile(`${sim.workspace}/plain.txt`), "plain.txt");
  assert.match(logOf(step), /pod \/__w → .* \(.*\/s\); 5 deleted/);

  // The runner deletes a file and a directory between steps; the next step no longer sees them.
  // busybox tar does not restore a non-empty directory's mtime and its markers are whole seconds
  // set back: a directory extracted in the last second or two would count as the pod's own news
  // and stay (docs/design.md). Aged here as a directory checked out minutes earlier would be.
  const pod = String(sim.state?.jobPod);
  await hc.execInPod(
    pod,
    `touch -d "@$(($(date +%s) - 600))" "${sim.containerWorkspace}/runner dir"`,
  );
  await Deno.remove(`${sim.workspace}/runner-deletes.txt`);
  await Deno.remove(`${sim.workspace}/runner dir`, { recursive: true });
  const next = await sim.scriptStep(
    "for f in runner-deletes.txt 'runner dir' plain.txt; do " +
      '[ -e "$f" ] && echo "present: $f" || echo "absent: $f"; done\n',
  );
  assertHookOk(next, "the next step");
  assert.match(next.stdout, /^absent: runner-deletes\.txt$/m);
  assert.match(next.stdout, /^absent: runner dir$/m);
  assert.match(next.stdout, /^present: plain\.txt$/m);
  assert.equal(
    await hc.execInPod(pod, `ls ${sim.containerWorkspace}`),
    "plain.txt\n",
    "the pod holds what the runner holds",
  );
}

Deno.test("deletions cross the step sync both ways", async (t) => {
  await using hc = await HookCluster.start();

  for (const image of ["debian:12", "busybox"]) {
    await hc.job(t, `${image}: a step's deletions reach the host, the runner's the pod`, async ({
      sim,
    }) => {
      await deletionsBothWays(hc, sim, image);
      assertHookOk(await sim.cleanupJob(), "cleanup_job");
    });
  }

  await hc.job(
    t,
    "what the runner never got (an outside link, a FIFO) stays in the pod",
    async ({ sim }) => {
      assertHookOk(
        await sim.prepareJob({ container: jobContainer("debian:12"), services: [] }),
        "prepare_job",
      );
      const made = await sim.scriptStep(
        'ln -s /etc/hostname "$RUNNER_TEMP/outside-link" && mkfifo "$RUNNER_TEMP/agent.fifo"\n',
      );
      assertHookOk(made, "the step making them");
      assert.match(logOf(made), /Not copied back from the job pod: "(\.\/)?_temp\/outside-link"/);
      assert.equal(await exists(`${sim.temp}/outside-link`), false);
      // The runner writes the next step's script into _temp, so the pod compares _temp.
      const kept = await sim.scriptStep(
        'ls -l "$RUNNER_TEMP/outside-link" && [ -p "$RUNNER_TEMP/agent.fifo" ] && echo kept\n',
      );
      assertHookOk(kept, "the next step");
      assert.match(kept.stdout, /^kept$/m);
      assertHookOk(await sim.cleanupJob(), "cleanup_job");
    },
  );

  await hc.job(t, "a name the runner wrote that is not UTF-8 reaches the next step", async ({
    sim,
  }) => {
    assertHookOk(
      await sim.prepareJob({ container: jobContainer("debian:12"), services: [] }),
      "prepare_job",
    );
    // A Latin-1 name, as an action's tarball may hold one (Deno cannot write it; sh can). Its
    // listing used to be decoded to U+FFFD, a name tar could not find: the step failed.
    const written = await new Deno.Command("sh", {
      args: ["-c", `printf latin1 > "$(printf 'caf\\351')"`],
      cwd: sim.workspace,
    }).output();
    assert.ok(written.success);
    const step = await sim.scriptStep(`cat "$(printf 'caf\\351')"; echo; ls | od -An -c\n`);
    assertHookOk(step, "the next step");
    assert.match(step.stdout, /^latin1$/m);
    assert.match(step.stdout, /c +a +f +351/);
    assertHookOk(await sim.cleanupJob(), "cleanup_job");
  });
});
