import assert from "node:assert/strict";
import { decodeObject, decodeReview } from "./protobuf.ts";
import { ApiError } from "./status.ts";

/** Protobuf encoding, just what the tests need: length-delimited fields and varints. */
const utf8 = (s: string) => new TextEncoder().encode(s);
function varint(n: number): number[] {
  const out = [];
  while (n > 127) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  return [...out, n];
}
const bytes = (
  field: number,
  value: Uint8Array,
) => [...varint(field * 8 + 2), ...varint(value.length), ...value];
const str = (field: number, value: string) => bytes(field, utf8(value));
const msg = (field: number, ...parts: number[][]) => bytes(field, new Uint8Array(parts.flat()));
const envelope = (raw: number[]) => new Uint8Array([0x6b, 0x38, 0x73, 0, ...msg(2, raw)]);

Deno.test("protobuf: a SelfSubjectAccessReview's resource attributes", () => {
  const attrs = msg(1, str(1, "default"), str(2, "create"), str(5, "pods"), str(6, "exec"));
  const review = decodeReview(envelope([...msg(1), ...msg(2, attrs)]), false);
  assert.deepEqual(review, {
    spec: {
      resourceAttributes: {
        namespace: "default",
        verb: "create",
        group: "",
        version: "",
        resource: "pods",
        subresource: "exec",
        name: "",
      },
    },
  });
  assert.deepEqual(decodeReview(envelope(msg(2, str(1, "ci"))), true), {
    spec: { namespace: "ci" },
  });
});

Deno.test("protobuf: a Secret with labels, data and type", () => {
  const meta = msg(1, str(1, "reg"), msg(11, str(1, "app"), str(2, "x")));
  const data = msg(2, str(1, ".dockerconfigjson"), bytes(2, utf8("{}")));
  const secret = decodeObject(
    envelope([...meta, ...data, ...str(3, "kubernetes.io/dockerconfigjson")]),
    "secrets",
  );
  assert.deepEqual(secret, {
    metadata: { name: "reg", labels: { app: "x" } },
    data: { ".dockerconfigjson": btoa("{}") },
    type: "kubernetes.io/dockerconfigjson",
  });
});

Deno.test("protobuf: other kinds and bad envelopes are refused", () => {
  assert.throws(
    () => decodeObject(envelope(msg(1, str(1, "p"))), "pods"),
    (e) => e instanceof ApiError && e.status.code === 415,
  );
  assert.throws(() => decodeObject(new Uint8Array([1, 2, 3, 4]), "secrets"), ApiError);
});
