import assert from "node:assert/strict";
import { prepareJobResponse, writeResponse } from "./response.ts";

Deno.test("prepare_job response: services keep input order and ports; none means no services key", () => {
  const withServices = prepareJobResponse({
    state: { jobPod: "p-workflow" },
    container: { id: "p-workflow" },
    services: [{ id: "redis", ports: { "6379": "6379" } }, { id: "nginx", ports: {} }],
    isAlpine: true,
  });
  assert.deepEqual(withServices, {
    state: { jobPod: "p-workflow" },
    context: {
      container: { id: "p-workflow", network: "" },
      services: [
        { id: "redis", network: "", ports: { "6379": "6379" } },
        { id: "nginx", network: "", ports: {} },
      ],
    },
    isAlpine: true,
  });
  const bare = prepareJobResponse({ state: {}, container: null, services: [], isAlpine: false });
  assert.deepEqual(bare, { state: {}, context: {}, isAlpine: false });
  assert.ok(!JSON.stringify(bare).includes("services"));
});

Deno.test("writeResponse writes one JSON value once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/r.json`;
    await Deno.writeTextFile(path, "");
    await writeResponse(path, { state: { jobPod: "x" } });
    assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), { state: { jobPod: "x" } });
    await assert.rejects(() => writeResponse(path, { state: {} }), /twice/);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), { state: { jobPod: "x" } });
    await assert.rejects(
      () => writeResponse(`${dir}/missing/r.json`, { state: {} }),
      /Cannot write the hook response file .*missing\/r\.json/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
