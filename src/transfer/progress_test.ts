import assert from "node:assert/strict";
import { formatTransfer, type TransferReport } from "./progress.ts";

const base: TransferReport = {
  direction: "to-pod",
  hostPath: "/home/runner/_work",
  podPath: "/__w",
  entries: 20_000,
  contentBytes: 200_000_000,
  wireBytes: 210_000_000,
  seconds: 1.25,
  gzip: false,
  attempts: 1,
  deleted: 0,
  rejected: [],
  warnings: "",
};

Deno.test("the summary names both ends, counts, size, time and rate", () => {
  const { summary, details, warnings } = formatTransfer(base);
  assert.equal(
    summary,
    "Copied 20,000 entries (200.0 MB) /home/runner/_work → pod /__w in 1.25 s (160.0 MB/s)",
  );
  assert.deepEqual(details, [
    "transfer to-pod: 210000000 bytes on the wire, 200000000 bytes of content, 1 attempt",
  ]);
  assert.deepEqual(warnings, []);
});

Deno.test("repeats, refused entries and tar warnings are reported", () => {
  const { summary, details, warnings } = formatTransfer({
    ...base,
    direction: "from-pod",
    entries: 1,
    gzip: true,
    attempts: 2,
    deleted: 1_234,
    rejected: [{ name: "../x", reason: 'its name contains a ".." component' }],
    warnings: "tar: a: file changed as we read it",
  });
  assert.match(
    summary,
    /^Copied 1 entry .* pod \/__w → \/home\/runner\/_work in .*; 1,234 deleted$/,
  );
  assert.match(details[0], /\(gzip\).*2 attempts$/);
  assert.match(details[1], /broke 1 time/);
  assert.deepEqual(warnings, [
    'Not copied back from the job pod: "../x", because its name contains a ".." component.',
    "tar reported while copying pod /__w → /home/runner/_work: tar: a: file changed as we read it",
  ]);
});
