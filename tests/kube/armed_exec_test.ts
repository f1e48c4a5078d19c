/**
 * An armed exec (src/kube/armed_exec.ts) against a local process standing in for the pod: the
 * command runs only when it is asked for, with the asker's output sink, and never when the asker
 * wants another command, when it is disposed unasked, or after its session ended while it waited.
 */
import assert from "node:assert/strict";
import { armExec } from "../../src/kube/armed_exec.ts";
import type { ExecOptions } from "../../src/kube/exec.ts";
import { localPod } from "../transfer/local_pod.ts";

async function withArmed(
  fn: (
    ran: () => Promise<boolean>,
    options: ExecOptions,
    pod: Awaited<ReturnType<typeof localPod>>,
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kubehook-armed-" });
  await using pod = await localPod("busybox");
  try {
    const options: ExecOptions = {
      ...pod.target,
      command: ["sh", "-c", `echo ran > ${dir}/marker; echo output`],
      stdin: false,
      stdoutSink: () => {},
    };
    const ran = () => Deno.lstat(`${dir}/marker`).then(() => true, () => false);
    await fn(ran, options, pod);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Lets a local process that was wrongly let go run to its end. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 200));
}

Deno.test("an armed exec runs its command only when asked, into the asker's sink", async () => {
  await withArmed(async (ran, options, pod) => {
    using armed = armExec(pod.exec, options);
    await settle();
    assert.equal(await ran(), false, "the command ran before it was asked for");
    let text = "";
    const session = await armed.exec({
      ...options,
      stdoutSink: (chunk) => text += new TextDecoder().decode(chunk),
    });
    assert.equal(session.stdin, null, "the asker asked for no stdin");
    assert.deepEqual(await session.result, { kind: "exited", exitCode: 0 });
    assert.equal(text, "output\n");
    assert.equal(await ran(), true);
  });
});

Deno.test("asked for another command, an armed exec opens that one and never runs its own", async () => {
  await withArmed(async (ran, options, pod) => {
    using armed = armExec(pod.exec, options);
    await settle();
    let text = "";
    const session = await armed.exec({
      ...options,
      command: ["sh", "-c", "echo other"],
      stdoutSink: (chunk) => text += new TextDecoder().decode(chunk),
    });
    assert.deepEqual(await session.result, { kind: "exited", exitCode: 0 });
    assert.equal(text, "other\n");
    await settle();
    assert.equal(await ran(), false);
  });
});

Deno.test("an armed exec disposed unasked, or ended while it waited, never runs", async () => {
  await withArmed(async (ran, options, pod) => {
    {
      using _unasked = armExec(pod.exec, options);
    }
    await settle();
    assert.equal(await ran(), false, "disposed unasked, it ran");

    // Its session cut while it waits (an idle connection closed): asked, it opens a new one.
    let cut: (() => void) | undefined;
    using armed = armExec(async (o) => {
      const session = await pod.exec(o);
      cut ??= () => session.close();
      return session;
    }, options);
    while (!cut) await new Promise((resolve) => setTimeout(resolve, 10));
    cut();
    await settle();
    assert.equal(await ran(), false, "cut while it waited, it ran");
    const session = await armed.exec(options);
    assert.deepEqual(await session.result, { kind: "exited", exitCode: 0 });
    assert.equal(await ran(), true);
  });
});
