/**
 * `deno task cluster --real` keeps the embedded cluster's contract: exactly one ready line once
 * the kubeconfig (four bearer-token contexts, namespace default) is in place, and exit 0 on
 * SIGTERM with nothing left. A cluster whose owner is killed outright dies with it, and the next
 * start sweeps what it left (cgroups, its temporary state directory).
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { leftovers } from "./leftovers.ts";
import { sweepAbandonedNodes } from "./node_traces.ts";
import { realTierSkipReason } from "./prerequisites.ts";

const skip = await realTierSkipReason();
const MAIN = new URL("../cluster/main.ts", import.meta.url).pathname;

/** `deno task cluster --real ...args`, and its stdout up to the first line. */
async function startMain(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--real", ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let first = "";
  while (!first.includes("\n")) {
    const { value, done } = await stdout.read();
    if (done) break;
    first += value;
  }
  const rest = async () => {
    let text = "";
    for (let r = await stdout.read(); !r.done; r = await stdout.read()) text += r.value;
    return text;
  };
  return { child, first, rest, stderr: () => new Response(child.stderr).text() };
}

/** Fails with what the cluster said on stderr when its first line is not `expected`. */
async function assertReady(main: Awaited<ReturnType<typeof startMain>>, expected: RegExp) {
  if (expected.test(main.first)) return;
  main.child.kill("SIGTERM");
  await main.child.status;
  assert.fail(`no ready line but ${JSON.stringify(main.first)}; stderr:\n${await main.stderr()}`);
}

/** The node a process owns, from its record (node_traces.ts). */
async function ownedNode(owner: number) {
  for await (const entry of Deno.readDir("/run/kubehook-realcluster")) {
    const record = JSON.parse(await Deno.readTextFile(`/run/kubehook-realcluster/${entry.name}`));
    if (record.owner.pid === owner) {
      return { cgroup: record.cgroup as string, veth: `kh${record.id}`, id: record.id as string };
    }
  }
  throw new Error(`no node record names process ${owner} as its owner`);
}

Deno.test({
  name: "deno task cluster --real: one ready line, the contexts, a clean exit on SIGTERM",
  ignore: skip !== undefined,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "kubehook-main-real-" });
  try {
    const kubeconfig = `${dir}/kubeconfig`;
    const stateDir = `${dir}/state`;
    const main = await startMain(["--kubeconfig", kubeconfig, "--state-dir", stateDir]);
    await assertReady(main, /^cluster ready: https:\/\/127\.0\.0\.1:\d+\n$/);
    const node = await ownedNode(main.child.pid);
    const config = parse(await Deno.readTextFile(kubeconfig));
    assert.equal(config["current-context"], "admin");
    assert.deepEqual(
      config.contexts.map((c: { name: string; context: { namespace: string } }) =>
        `${c.name}:${c.context.namespace}`
      ).sort(),
      ["admin:default", "builder:default", "restricted:default", "runner:default"],
    );
    assert.ok(config.users.every((u: { user: { token?: string } }) => u.user.token));
    const nodes = await new Deno.Command("kubectl", {
      args: ["--context", "runner", "auth", "can-i", "create", "pods/exec"],
      env: { KUBECONFIG: kubeconfig, HOME: dir },
      stdout: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(nodes.stdout).trim(), "yes");

    main.child.kill("SIGTERM");
    const [status, rest] = await Promise.all([main.child.status, main.rest()]);
    assert.equal(status.code, 0, await main.stderr());
    assert.equal(rest, "", "exactly one line on stdout");
    assert.equal(await Deno.stat(kubeconfig).catch(() => null), null, "kubeconfig removed");
    assert.deepEqual(await leftovers({ stateDir, node }), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "a real cluster whose owner is killed dies with it; the next start sweeps its traces",
  ignore: skip !== undefined,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "kubehook-main-real-" });
  try {
    const main = await startMain(["--kubeconfig", `${dir}/kubeconfig`]);
    await assertReady(main, /^cluster ready: /);
    const node = await ownedNode(main.child.pid);
    const stateDir = JSON.parse(
      await Deno.readTextFile(`/run/kubehook-realcluster/${node.id}.json`),
    ).stateDir;
    assert.match(stateDir, /kubehook-real-/);
    main.child.kill("SIGKILL");
    await main.child.status;
    await main.stderr();
    await main.rest();
    let left: string[] = [];
    for (let i = 0; i < 100; i++) {
      await sweepAbandonedNodes();
      left = await leftovers({ stateDir, node });
      if (left.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.deepEqual(left, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
