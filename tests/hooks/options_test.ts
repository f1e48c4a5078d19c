/**
 * Workflows written for docker mode, unchanged: the job container's and services' `options`
 * (limits under the administrator's caps, the user, `-e`), privileges refused, services healthy
 * before the first step (and a clear failure when one never is), services by their short names,
 * published ports reported as docker mode reports them, and a container step's options.
 */
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { containerOf } from "../../src/runner/input.ts";
import { jobContainer, runnerArgs, serviceContainer } from "../support/runner_sim.ts";
import { assertHookFailed, assertHookOk, HookCluster, logOf } from "./hook_cluster.ts";

/** A web server that starts answering only after a few seconds, as a database does once it has
 * initialised: a step that started without waiting for its health would find nothing. */
const slowWeb = (options: string, over = {}) =>
  serviceContainer("busybox:1.36", {
    entryPoint: "sh",
    entryPointArgs: [
      "-c",
      "mkdir /www; sleep 6; echo 'up and running' > /www/index.html; exec httpd -f -p 8080 -h /www",
    ],
    createOptions: options,
    ...over,
  });

Deno.test("docker mode's options, health checks, names and ports", async (t) => {
  await using hc = await HookCluster.start();

  await hc.job(
    t,
    "the job container's limits, user and -e; a cap lowers --cpus",
    async ({ sim, runnerPod }) => {
      const prepared = await sim.prepareJob({
        container: jobContainer("debian:12", {
          createOptions: `--cpus 8 --memory=256m --user 1001:1001 -e FROM_OPTIONS=hello ` +
            `--env 'SPACED=two words' --network host`,
        }),
        services: [],
      });
      assertHookOk(prepared, "prepare_job");
      const log = logOf(prepared);
      assert.match(
        log,
        /::warning::The job container's options ask for cpu 8, more than KUBEHOOK_MAX_CPU=500m allows: it gets 500m\./,
      );
      assert.match(
        log,
        /::warning::The job container's option --network cannot be honoured on Kubernetes/,
      );
      const [pod] = await hc.labelled<V1Pod>("pods", runnerPod);
      const job = pod.spec!.containers.find((c) => c.name === "job")!;
      assert.equal(job.resources?.limits?.cpu, "500m");
      assert.equal(job.resources?.limits?.memory, "256Mi");
      assert.equal(job.securityContext?.runAsUser, 1001);
      const step = await sim.scriptStep('id -u; id -g; echo "$FROM_OPTIONS/$SPACED"; touch mine');
      assertHookOk(step, "the step");
      assert.match(step.stdout, /^1001\n1001\nhello\/two words$/m);
      assertHookOk(await sim.cleanupJob(), "cleanup_job");
    },
    { KUBEHOOK_MAX_CPU: "500m" },
  );

  await hc.job(
    t,
    "--privileged is refused before anything is created",
    async ({ sim, runnerPod }) => {
      const log = assertHookFailed(
        await sim.prepareJob({
          container: jobContainer("debian:12"),
          services: [serviceContainer("busybox:1.36", { createOptions: "--privileged" })],
        }),
        "prepare_job",
      );
      assert.match(
        log,
        /service busybox's options ask for --privileged, which this runner does not allow/,
      );
      assert.match(log, /KUBEHOOK_ALLOW_PRIVILEGED=true/);
      assert.deepEqual(await hc.labelled("pods", runnerPod), []);
    },
  );

  await hc.job(
    t,
    "the first step starts once the service is healthy, and reaches it by name",
    async ({ sim }) => {
      const prepared = await sim.prepareJob({
        container: jobContainer("debian:12"),
        services: [
          slowWeb(
            `--health-cmd "wget -q -O /dev/null http://127.0.0.1:8080/" --health-interval 1s ` +
              "--health-timeout 2s --health-retries 30",
            { portMappings: ["18080:8080"] },
          ),
        ],
      });
      assertHookOk(prepared, "prepare_job");
      const log = logOf(prepared);
      assert.match(log, /Waiting for 1 service to be healthy: busybox \("wget -q -O \/dev\/null/);
      assert.match(log, /Service busybox is healthy/);
      assert.match(log, /reachable .* by name and on localhost: busybox\./);
      const response = prepared.response as {
        context: { services: { id: string; ports: Record<string, string> }[] };
      };
      // Published as docker mode reports it: container port → host port.
      assert.deepEqual(
        response.context.services.map(({ id, ports }) => ({ id, ports })),
        [{ id: "busybox", ports: { "8080": "18080" } }],
      );
      // Right after prepare_job: the server answers only if its health was waited for.
      const fetched = await sim.scriptStep(
        "grep -w busybox /etc/hosts; exec 3<>/dev/tcp/busybox/8080; " +
          "printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3",
        { shell: "bash" },
      );
      assertHookOk(fetched, "a request to the service by name");
      assert.match(fetched.stdout, /^127\.0\.0\.1\s+busybox$/m);
      assert.match(fetched.stdout, /up and running/);
      assertHookOk(await sim.cleanupJob(), "cleanup_job");
    },
  );

  await hc.job(
    t,
    "a service that never becomes healthy fails prepare_job with its check's output",
    async ({ sim, runnerPod }) => {
      const log = assertHookFailed(
        await sim.prepareJob({
          container: jobContainer("debian:12"),
          services: [
            serviceContainer("busybox:1.36", {
              entryPoint: "sleep",
              entryPointArgs: ["3600"],
              createOptions: `--health-cmd 'echo "database is still down"; exit 1' ` +
                "--health-interval 1s --health-timeout 1s --health-retries 2",
            }),
          ],
        }),
        "prepare_job",
      );
      assert.match(log, /Service busybox did not become healthy within/);
      assert.match(log, /database is still down/);
      assert.deepEqual(await hc.labelled("pods", runnerPod), []);
    },
  );

  await hc.job(t, "a container step's options: user and -e", async ({ sim }) => {
    assertHookOk(
      await sim.prepareJob({ container: jobContainer("debian:12"), services: [] }),
      "prepare_job",
    );
    const step = await sim.containerStep(containerOf("busybox:1.36", {
      entryPoint: "sh",
      entryPointArgs: runnerArgs(["-c", 'id -u; echo "$FROM_OPTIONS $KEPT"']),
      environmentVariables: { KEPT: "from the step" },
      createOptions: "--user 4242 -e FROM_OPTIONS=set -e KEPT=from-options",
    }));
    assertHookOk(step, "the container step");
    assert.match(step.stdout, /^4242\nset from the step$/m);
    assertHookOk(await sim.cleanupJob(), "cleanup_job");
  });
});
