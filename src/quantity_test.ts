import assert from "node:assert/strict";
import { cpuMillis, memoryBytes } from "./quantity.ts";

Deno.test("CPU quantities in millicores", () => {
  assert.equal(cpuMillis("2"), 2000);
  assert.equal(cpuMillis("1.5"), 1500);
  assert.equal(cpuMillis("250m"), 250);
  for (const bad of ["", "two", "1k", "-1", "2 cpus"]) assert.equal(cpuMillis(bad), undefined, bad);
});

Deno.test("memory quantities in bytes, binary and decimal", () => {
  assert.equal(memoryBytes("4Gi"), 4 * 2 ** 30);
  assert.equal(memoryBytes("512Mi"), 512 * 2 ** 20);
  assert.equal(memoryBytes("1G"), 1e9);
  assert.equal(memoryBytes("1073741824"), 2 ** 30);
  for (const bad of ["", "4g", "4GB", "lots", "-1Gi"]) {
    assert.equal(memoryBytes(bad), undefined, bad);
  }
});
