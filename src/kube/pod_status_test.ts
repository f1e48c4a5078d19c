import { deepEqual as assertEquals } from "node:assert/strict";
import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import { classifyPod } from "./pod_status.ts";

function pod(status: V1Pod["status"], containers = ["job"]): V1Pod {
  return { spec: { containers: containers.map((name) => ({ name })) }, status };
}

function waiting(name: string, reason: string, message?: string): V1ContainerStatus {
  return {
    name,
    image: "x",
    imageID: "",
    ready: false,
    restartCount: 0,
    state: { waiting: { reason, message } },
  };
}

/** The job container, running and ready. */
const running: V1ContainerStatus = {
  name: "job",
  image: "x",
  imageID: "",
  ready: true,
  restartCount: 0,
  state: { running: {} },
};

Deno.test("a pod whose containers all run is running, ready or not", () => {
  assertEquals(classifyPod(pod({ phase: "Running", containerStatuses: [running] })), {
    state: "running",
  });
  // A service whose health check has not passed yet runs: its health is waited for elsewhere.
  const unhealthy = pod({
    phase: "Running",
    containerStatuses: [running, { ...running, name: "postgres", ready: false }],
  }, ["job", "postgres"]);
  assertEquals(classifyPod(unhealthy).state, "running");
  // One of two containers still creating: not ready yet.
  const creating = pod({
    phase: "Running",
    containerStatuses: [running, waiting("redis", "ContainerCreating")],
  }, ["job", "redis"]);
  assertEquals(classifyPod(creating).state, "waiting");
});

Deno.test("image pull failures fail at once with the container and the message", () => {
  const verdict = classifyPod(
    pod({ phase: "Pending", containerStatuses: [waiting("job", "ErrImagePull", "not found")] }),
  );
  assertEquals(verdict, {
    state: "failed",
    reason: "ErrImagePull",
    container: "job",
    message: "not found",
  });
  assertEquals(
    classifyPod(pod({ phase: "Pending", containerStatuses: [waiting("job", "ImagePullBackOff")] }))
      .state,
    "failed",
  );
});

Deno.test("ContainerCreating and PodInitializing keep waiting", () => {
  const verdict = classifyPod(
    pod({ phase: "Pending", containerStatuses: [waiting("job", "ContainerCreating")] }),
  );
  assertEquals(verdict.state, "waiting");
});

Deno.test("a failed init container fails the pod", () => {
  const verdict = classifyPod(pod({
    phase: "Pending",
    initContainerStatuses: [{
      name: "fs-init",
      image: "x",
      imageID: "",
      ready: false,
      restartCount: 0,
      state: { terminated: { exitCode: 2, reason: "Error" } },
    }],
  }));
  assertEquals(verdict.state, "failed");
  if (verdict.state === "failed") {
    assertEquals(verdict.container, "fs-init");
    assertEquals(verdict.message, 'init container "fs-init" exited with code 2 (Error)');
  }
});

Deno.test("an exited container and an evicted pod fail", () => {
  const exited = classifyPod(pod({
    phase: "Running",
    containerStatuses: [{
      name: "job",
      image: "x",
      imageID: "",
      ready: false,
      restartCount: 0,
      state: { terminated: { exitCode: 0, reason: "Completed" } },
    }],
  }));
  assertEquals(exited.state === "failed" && exited.reason, "ContainerExited");
  const evicted = classifyPod(pod({ phase: "Failed", reason: "Evicted", message: "low memory" }));
  assertEquals(evicted, {
    state: "failed",
    reason: "Evicted",
    container: undefined,
    message: "low memory",
  });
});

Deno.test("an unschedulable pod waits and says why", () => {
  const verdict = classifyPod(pod({
    phase: "Pending",
    conditions: [{
      type: "PodScheduled",
      status: "False",
      reason: "Unschedulable",
      message: "0/1 nodes are available",
    }],
  }));
  assertEquals(verdict, {
    state: "waiting",
    unschedulable: true,
    why: "not scheduled yet: 0/1 nodes are available",
  });
});

Deno.test("a container not waited for need not run, but its failure counts", () => {
  const creating = pod({
    phase: "Running",
    containerStatuses: [running, waiting("externals", "ContainerCreating")],
  }, ["job", "externals"]);
  assertEquals(classifyPod(creating).state, "waiting");
  assertEquals(classifyPod(creating, { notWaitedFor: ["externals"] }), { state: "running" });
  const pulling = pod({
    phase: "Running",
    containerStatuses: [running, waiting("externals", "ErrImagePull", "not found")],
  }, ["job", "externals"]);
  assertEquals(classifyPod(pulling, { notWaitedFor: ["externals"] }), {
    state: "failed",
    reason: "ErrImagePull",
    container: "externals",
    message: "not found",
  });
  const alone = pod({ phase: "Pending", containerStatuses: [] }, ["externals"]);
  assertEquals(classifyPod(alone, { notWaitedFor: ["externals"] }).state, "waiting");
});
