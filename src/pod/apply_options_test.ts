import assert from "node:assert/strict";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { applyDockerOptions, type OptionLimits, OptionsRefused } from "./apply_options.ts";
import { parseDockerOptions } from "./docker_options.ts";

function podWith(container: V1Container): V1Pod {
  return {
    metadata: { name: "p", labels: { "kubehook.io/job": "p" } },
    spec: { containers: [container] },
  };
}

function apply(
  options: string,
  role: "job" | "service" | "step",
  limits: OptionLimits = { allowPrivileged: false },
  container: V1Container = { name: "c", image: "i", env: [{ name: "KEEP", value: "runner" }] },
) {
  const pod = podWith(container);
  const warnings = applyDockerOptions(pod, container, parseDockerOptions(options, "service db"), {
    owner: "service db",
    role,
    limits,
  });
  return { pod, container, warnings };
}

Deno.test("limits within the caps pass, above them are lowered with a warning", () => {
  const limits = { maxCpu: "2", maxMemory: "4Gi", allowPrivileged: false };
  const within = apply("--cpus 1.5 --memory 2g", "service", limits);
  assert.deepEqual(within.container.resources, { limits: { cpu: "1.5", memory: "2Gi" } });
  assert.deepEqual(within.warnings, []);
  const above = apply("--cpus 8 --memory 16g --memory-reservation 8g", "service", limits);
  assert.deepEqual(above.container.resources, {
    limits: { cpu: "2", memory: "4Gi" },
    requests: { memory: "4Gi" },
  });
  assert.equal(above.warnings.length, 3);
  assert.match(above.warnings[0], /cpu 8, more than KUBEHOOK_MAX_CPU=2 allows: it gets 2/);
});

Deno.test("a reservation above the limit is dropped: Kubernetes would refuse the pod", () => {
  const { container, warnings } = apply("--memory 1g --memory-reservation 2g", "service");
  assert.deepEqual(container.resources, { limits: { memory: "1Gi" } });
  assert.match(warnings[0], /reserve memory 2Gi, more than its limit 1Gi/);
});

Deno.test("privileges are refused unless the administrator allows them", () => {
  for (const options of ["--privileged", "--cap-add NET_ADMIN", "--cap-add=SYS_ADMIN --rm"]) {
    assert.throws(() => apply(options, "service"), (e: unknown) => {
      assert.ok(e instanceof OptionsRefused);
      assert.match(e.message, /service db's options ask for --(privileged|cap-add)/);
      assert.match(e.message, /KUBEHOOK_ALLOW_PRIVILEGED=true/);
      return true;
    });
  }
  const { container } = apply("--privileged --cap-add NET_ADMIN --cap-drop ALL", "service", {
    allowPrivileged: true,
  });
  assert.deepEqual(container.securityContext, {
    privileged: true,
    capabilities: { add: ["NET_ADMIN"], drop: ["ALL"] },
  });
  // Dropping needs no permission.
  assert.deepEqual(
    apply("--cap-drop ALL --read-only -u 1001:5", "service").container.securityContext,
    {
      runAsUser: 1001,
      runAsGroup: 5,
      capabilities: { drop: ["ALL"] },
      readOnlyRootFilesystem: true,
    },
  );
});

Deno.test("the runner's variables win over -e; values are kept from the kubelet's expansion", () => {
  const { container } = apply("-e KEEP=option -e NEW='$(HOME) costs $5'", "service");
  assert.deepEqual(container.env, [
    { name: "KEEP", value: "runner" },
    { name: "NEW", value: "$$(HOME) costs $$5" },
  ]);
});

Deno.test("the job container keeps kubehook's command; a service takes entrypoint and workdir", () => {
  const job = apply("--entrypoint /bin/app -w /src --health-cmd true", "job");
  assert.equal(job.container.command, undefined);
  assert.equal(job.container.workingDir, undefined);
  assert.equal(job.container.readinessProbe, undefined);
  assert.equal(job.warnings.length, 3);
  const service = apply("--entrypoint /bin/app -w /src", "service");
  assert.deepEqual(service.container.command, ["/bin/app"]);
  assert.equal(service.container.workingDir, "/src");
});

Deno.test("shm, hosts and labels land on the pod; kubehook's labels stay", () => {
  const { pod, container, warnings } = apply(
    "--shm-size 1g --add-host db.local:10.0.0.5 -l team=ci -l kubehook.io/job=x -l bad='a b'",
    "job",
  );
  assert.deepEqual(pod.spec!.volumes, [
    { name: "shm-c", emptyDir: { medium: "Memory", sizeLimit: "1Gi" } },
  ]);
  assert.deepEqual(container.volumeMounts, [{ name: "shm-c", mountPath: "/dev/shm" }]);
  assert.deepEqual(pod.spec!.hostAliases, [{ ip: "10.0.0.5", hostnames: ["db.local"] }]);
  assert.deepEqual(pod.metadata!.labels, { team: "ci", "kubehook.io/job": "p" });
  assert.match(warnings[0], /label bad=a b is not a valid label value/);
});

Deno.test("a health check becomes a readiness probe; the start period adds tries, not delay", () => {
  const { container } = apply(
    "--health-cmd 'pg_isready -U postgres' --health-interval 10s --health-timeout 5s " +
      "--health-retries 5 --health-start-period 30s",
    "service",
  );
  assert.deepEqual(container.readinessProbe, {
    exec: { command: ["/bin/sh", "-c", "pg_isready -U postgres"] },
    periodSeconds: 10,
    timeoutSeconds: 5,
    failureThreshold: 8,
  });
  // Docker's defaults when only the command is given.
  assert.deepEqual(apply("--health-cmd true", "service").container.readinessProbe, {
    exec: { command: ["/bin/sh", "-c", "true"] },
    periodSeconds: 30,
    timeoutSeconds: 30,
    failureThreshold: 3,
  });
});

Deno.test("a step's labels and health check are ignored with a warning", () => {
  const { pod, container, warnings } = apply("-l a=b --health-cmd true", "step");
  assert.deepEqual(pod.metadata!.labels, { "kubehook.io/job": "p" });
  assert.equal(container.readinessProbe, undefined);
  assert.equal(warnings.length, 2);
});
