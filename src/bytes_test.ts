import assert from "node:assert/strict";
import { writeFully } from "./bytes.ts";

Deno.test("writeFully writes what a writer took only part of, in order", async () => {
  const written: number[] = [];
  let calls = 0;
  const trickle = {
    write(bytes: Uint8Array): Promise<number> {
      calls++;
      const taken = bytes.subarray(0, 3);
      written.push(...taken);
      return Promise.resolve(taken.length);
    },
  };
  await writeFully(trickle, new Uint8Array([1, 2, 3, 4, 5, 6, 7]));
  assert.deepEqual(written, [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(calls, 3);
});
