import assert from "node:assert/strict";
import {
  chooseGzip,
  gunzipStream,
  GZIP_BELOW_BYTES_PER_SECOND,
  gzipStream,
  updateLinkEstimate,
} from "./compression.ts";

Deno.test("gzip and none are obeyed; auto compresses only on a link measured as slow", () => {
  assert.equal(chooseGzip("gzip", undefined), true);
  assert.equal(chooseGzip("none", { bytesPerSecond: 1 }), false);
  assert.equal(chooseGzip("auto", undefined), false);
  assert.equal(chooseGzip("auto", { bytesPerSecond: GZIP_BELOW_BYTES_PER_SECOND - 1 }), true);
  assert.equal(chooseGzip("auto", { bytesPerSecond: GZIP_BELOW_BYTES_PER_SECOND }), false);
});

Deno.test("only big uncompressed transfers measure the link", () => {
  const old = { bytesPerSecond: 5 };
  const big = 64 * 1024 * 1024;
  assert.deepEqual(updateLinkEstimate(old, { wireBytes: big, seconds: 2, gzip: false }), {
    bytesPerSecond: big / 2,
  });
  assert.equal(updateLinkEstimate(old, { wireBytes: big, seconds: 2, gzip: true }), old);
  assert.equal(updateLinkEstimate(old, { wireBytes: 1000, seconds: 0.1, gzip: false }), old);
  assert.equal(
    updateLinkEstimate(undefined, { wireBytes: big, seconds: 0, gzip: false }),
    undefined,
  );
});

Deno.test("the gzip streams round-trip bytes", async () => {
  const data = new TextEncoder().encode("workspace ".repeat(10_000));
  const packed = await new Response(
    new Blob([data]).stream().pipeThrough(gzipStream()),
  ).arrayBuffer();
  assert.ok(packed.byteLength < data.length / 10);
  const unpacked = await new Response(
    new Blob([packed]).stream().pipeThrough(gunzipStream()),
  ).arrayBuffer();
  assert.deepEqual(new Uint8Array(unpacked), data);
});
