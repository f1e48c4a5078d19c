import assert from "node:assert/strict";
import { descendants, median, peakMbFromReport, residentMb } from "./measure.ts";

Deno.test("median takes the middle sample, the lower one for an even count", () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2);
  assert.throws(() => median([]), RangeError);
});

Deno.test("peakMbFromReport reads GNU time's last %M line", () => {
  assert.equal(peakMbFromReport("1024\n"), 1);
  assert.equal(peakMbFromReport("2048\n51200\n"), 50);
  assert.throws(() => peakMbFromReport(""), /no peak memory figure/);
  assert.throws(() => peakMbFromReport("Command exited with non-zero status 1\n"));
});

Deno.test("residentMb and descendants see a child process", async () => {
  const child = new Deno.Command("sleep", { args: ["30"], stdout: "null" }).spawn();
  try {
    assert.ok(await residentMb(child.pid) > 0);
    assert.ok((await descendants(Deno.pid)).includes(child.pid));
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
});
