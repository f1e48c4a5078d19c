/**
 * Behind HTTPS_PROXY, kubehook's exec WebSocket takes the same path as its REST calls (which go
 * through Deno's fetch): a CONNECT tunnel through the proxy, unless NO_PROXY exempts the API
 * server. A proxy that refuses the tunnel is named in the error with the fix.
 */
import assert from "node:assert/strict";
import { startConnectProxy } from "../support/connect_proxy.ts";
import { jobContainer } from "../support/runner_sim.ts";
import { assertHookFailed, assertHookOk, HookCluster } from "./hook_cluster.ts";

Deno.test("exec and REST calls go through HTTPS_PROXY, or straight with NO_PROXY", async (t) => {
  await using hc = await HookCluster.start();
  const api = new URL(hc.cluster.url);
  const apiHost = `${api.hostname}:${api.port}`;

  {
    await using proxy = startConnectProxy();
    await hc.job(t, "through the proxy", async ({ sim }) => {
      assertHookOk(
        await sim.prepareJob({ container: jobContainer("busybox"), services: [] }),
        "prepare_job",
      );
      const before = proxy.tunnels.length;
      const step = await sim.scriptStep("echo through the tunnel");
      assertHookOk(step, "the step");
      assert.match(step.stdout, /through the tunnel/);
      // A step is two execs, each its own connection; REST calls may reuse one.
      assert.ok(proxy.tunnels.length - before >= 2, `tunnels: ${proxy.tunnels.join(", ")}`);
      assert.deepEqual(new Set(proxy.tunnels), new Set([apiHost]));
      assertHookOk(await sim.cleanupJob(), "cleanup_job");
    }, { HTTPS_PROXY: proxy.url, NO_PROXY: "" });

    await hc.job(t, "NO_PROXY exempts the API server", async ({ sim }) => {
      const before = proxy.tunnels.length;
      assertHookOk(
        await sim.prepareJob({ container: jobContainer("busybox"), services: [] }),
        "prepare_job",
      );
      assertHookOk(await sim.scriptStep("true"), "the step");
      assertHookOk(await sim.cleanupJob(), "cleanup_job");
      assert.equal(proxy.tunnels.length, before, "no tunnel was opened");
    }, { HTTPS_PROXY: proxy.url, NO_PROXY: `example.com,${api.hostname}` });
  }

  {
    await using refusing = startConnectProxy({ refuse: "403 Forbidden" });
    await hc.job(t, "a proxy that refuses the tunnel is named, with the fix", async ({ sim }) => {
      const log = assertHookFailed(
        await sim.prepareJob({ container: jobContainer("busybox"), services: [] }),
        "prepare_job",
      );
      assert.ok(refusing.tunnels.length > 0, "the proxy was asked");
      assert.match(log, /The proxy 127\.0\.0\.1:\d+ \(HTTPS_PROXY\) did not open a tunnel/);
      assert.match(log, new RegExp(`add ${api.hostname.replaceAll(".", "\\.")} to NO_PROXY`));
    }, { HTTPS_PROXY: refusing.url, NO_PROXY: "" });
  }
});
