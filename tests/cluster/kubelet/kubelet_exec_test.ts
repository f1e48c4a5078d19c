/** exec, attach and logs against running containers. */
import assert from "node:assert/strict";
import type { V1PodStatus } from "@kubernetes/client-node";
import { RuntimeError } from "../contract.ts";
import { runPod, testPod, text, withKubelet } from "./testing_store.ts";

const ready = (s: V1PodStatus) => s.conditions?.find((c) => c.type === "Ready")?.status === "True";
const request = { namespace: "default", pod: "box", stdin: false, tty: false };

Deno.test("exec runs in the container with its env and workingDir, stdin in, exit code out", async () => {
  await withKubelet(async (kubelet, store) => {
    runPod(
      kubelet,
      store,
      testPod("box", [{
        name: "c",
        image: "busybox",
        command: ["sleep", "3600"],
        workingDir: "/work",
        env: [{ name: "GREETING", value: "hello" }],
      }]),
    );
    await store.until("box", "Ready", ready);
    const process = await kubelet.exec({
      ...request,
      command: ["sh", "-c", 'read line; echo "$GREETING $line from $(pwd)"; echo oops >&2; exit 4'],
      stdin: true,
    });
    const writer = process.stdin!.getWriter();
    await writer.write(new TextEncoder().encode("world\n"));
    await writer.close();
    const [stdout, stderr, code] = await Promise.all([
      text(process.stdout),
      text(process.stderr),
      process.exitCode,
    ]);
    assert.deepEqual([stdout, stderr, code], ["hello world from /work\n", "oops\n", 4]);
    const tty = await kubelet.exec({
      ...request,
      command: ["sh", "-c", "echo out; echo err >&2"],
      tty: true,
    });
    const merged = await text(tty.stdout);
    assert.deepEqual([merged.split("\n").sort().join(","), await text(tty.stderr)], [
      ",err,out",
      "",
    ]);
    await tty.exitCode;
  });
});

Deno.test("exec of a missing binary or into a stopped container is a RuntimeError 500", async () => {
  await withKubelet(async (kubelet, store) => {
    runPod(
      kubelet,
      store,
      testPod("box", [{ name: "c", image: "busybox", command: ["sleep", "3600"] }, {
        name: "done",
        image: "busybox",
        command: ["true"],
      }]),
    );
    await store.until(
      "box",
      "done to finish",
      (s) =>
        s.containerStatuses?.[1].state?.terminated !== undefined &&
        s.containerStatuses?.[0].state?.running !== undefined,
    );
    await assert.rejects(
      kubelet.exec({ ...request, command: ["no-such-tool"] }),
      (e: RuntimeError) => e.code === 500 && /executable file not found in \$PATH/.test(e.message),
    );
    await assert.rejects(
      kubelet.exec({ ...request, container: "done", command: ["true"] }),
      (e: RuntimeError) =>
        e.code === 500 && e.message.startsWith("error executing command in container:"),
    );
  });
});

Deno.test("an exec whose reader went away keeps running until it ends", async () => {
  await withKubelet(async (kubelet, store) => {
    runPod(
      kubelet,
      store,
      testPod("box", [{ name: "c", image: "busybox", command: ["sleep", "3600"] }]),
    );
    await store.until("box", "Ready", ready);
    const process = await kubelet.exec({
      ...request,
      command: ["sh", "-c", "yes | head -c 1000000; echo done > /tmp/mark"],
    });
    await process.stdout.cancel();
    await process.stderr.cancel();
    assert.equal(await process.exitCode, 0);
    const check = await kubelet.exec({ ...request, command: ["cat", "/tmp/mark"] });
    assert.equal(await text(check.stdout), "done\n");
    await check.exitCode;
  });
});

Deno.test("logs: waiting containers, tailLines, follow until exit; attach writes stdin", async () => {
  await withKubelet(async (kubelet, store) => {
    runPod(
      kubelet,
      store,
      testPod("box", [{
        name: "c",
        image: "busybox",
        command: ["sh", "-c", "echo a; echo b; while read line; do echo got $line; done; echo bye"],
        stdin: true,
        stdinOnce: true,
      }], { initContainers: [{ name: "wait", image: "busybox", command: ["sleep", "0.3"] }] }),
    );
    assert.throws(
      () => kubelet.logs("default", "box", "c", { follow: false }),
      (e: RuntimeError) =>
        e.code === 400 &&
        e.message === 'container "c" in pod "box" is waiting to start: PodInitializing',
    );
    await store.until("box", "Ready", ready);
    const followed = text(kubelet.logs("default", "box", "c", { follow: true }));
    const attached = await kubelet.attach({ ...request, container: "c", command: [], stdin: true });
    const output = text(attached.stdout);
    const writer = attached.stdin!.getWriter();
    await writer.write(new TextEncoder().encode("x\n"));
    await writer.close();
    assert.equal(await attached.exitCode, 0);
    assert.match(await output, /got x\nbye\n$/);
    assert.equal(await followed, "a\nb\ngot x\nbye\n");
    assert.equal(
      await text(kubelet.logs("default", "box", "c", { follow: false, tailLines: 2 })),
      "got x\nbye\n",
    );
  });
});
