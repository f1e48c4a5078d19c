/**
 * Just enough Kubernetes protobuf to read what kubectl's typed clients send as
 * `application/vnd.kubernetes.protobuf`: the `k8s\0` envelope (`runtime.Unknown`), self-subject
 * reviews (`kubectl auth can-i`), and the secrets and namespaces `kubectl create secret` and
 * `kubectl create namespace` post. Answers always go back as JSON, which those
 * clients accept too.
 *
 * @module
 */
import type { Resource } from "../contract.ts";
import { badRequest, failure } from "./status.ts";
import type { KubeObject, ObjectMeta } from "./store.ts";

/** The content type of Kubernetes protobuf bodies. */
export const PROTOBUF = "application/vnd.kubernetes.protobuf";

type Fields = Map<number, (Uint8Array | number)[]>;

/** Parses one protobuf message into its fields (varints as numbers, the rest as bytes). */
export function readMessage(bytes: Uint8Array): Fields {
  const fields: Fields = new Map();
  let offset = 0;
  const varint = () => {
    let value = 0, shift = 0, byte;
    do {
      if (offset >= bytes.length) throw badRequest("the protobuf body is truncated");
      byte = bytes[offset++];
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return value;
  };
  while (offset < bytes.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    let value: Uint8Array | number;
    switch (tag & 7) {
      case 0:
        value = varint();
        break;
      case 2: {
        const length = varint();
        value = bytes.subarray(offset, offset + length);
        offset += length;
        break;
      }
      case 1:
        value = bytes.subarray(offset, offset + 8);
        offset += 8;
        break;
      case 5:
        value = bytes.subarray(offset, offset + 4);
        offset += 4;
        break;
      default:
        throw badRequest(`the protobuf body has an unsupported wire type ${tag & 7}`);
    }
    fields.set(field, [...(fields.get(field) ?? []), value]);
  }
  return fields;
}

const text = (fields: Fields, n: number) => {
  const value = fields.get(n)?.[0];
  return value instanceof Uint8Array ? new TextDecoder().decode(value) : undefined;
};
const message = (fields: Fields, n: number) => {
  const value = fields.get(n)?.[0];
  return value instanceof Uint8Array ? readMessage(value) : undefined;
};

/** The object inside a `k8s\0` envelope. */
function unwrap(body: Uint8Array): Fields {
  const magic = [0x6b, 0x38, 0x73, 0x00];
  if (!magic.every((b, i) => body[i] === b)) {
    throw badRequest("the protobuf body does not start with the Kubernetes magic bytes");
  }
  const raw = readMessage(body.subarray(4)).get(2)?.[0];
  return raw instanceof Uint8Array ? readMessage(raw) : new Map();
}

/** A SelfSubjectAccessReview (`rules` false) or SelfSubjectRulesReview body, decoded into its
 * JSON shape. */
export function decodeReview(body: Uint8Array, rules: boolean): Record<string, unknown> {
  const spec = message(unwrap(body), 2) ?? new Map();
  if (rules) return { spec: { namespace: text(spec, 1) ?? "" } };
  const resource = message(spec, 1);
  const nonResource = message(spec, 2);
  if (resource) {
    const names = ["namespace", "verb", "group", "version", "resource", "subresource", "name"];
    return {
      spec: {
        resourceAttributes: Object.fromEntries(
          names.map((name, i) => [name, text(resource, i + 1) ?? ""]),
        ),
      },
    };
  }
  return {
    spec: {
      nonResourceAttributes: {
        path: text(nonResource ?? new Map(), 1),
        verb: text(nonResource ?? new Map(), 2),
      },
    },
  };
}

const texts = (fields: Fields, n: number) =>
  (fields.get(n) ?? []).map((v) => new TextDecoder().decode(v as Uint8Array));

/** A `map<string, V>` field: repeated entries of key (1) and value (2). */
function map<V>(fields: Fields, n: number, value: (entry: Fields) => V): Record<string, V> {
  return Object.fromEntries(
    (fields.get(n) ?? []).map((e) => {
      const entry = readMessage(e as Uint8Array);
      return [text(entry, 1) ?? "", value(entry)];
    }),
  );
}

function objectMeta(fields: Fields | undefined): ObjectMeta {
  if (!fields) return {};
  const meta: ObjectMeta = {};
  const strings = { 1: "name", 2: "generateName", 3: "namespace" } as const;
  for (const [n, name] of Object.entries(strings)) {
    const value = text(fields, Number(n));
    if (value) meta[name] = value;
  }
  const labels = map(fields, 11, (e) => text(e, 2) ?? "");
  const annotations = map(fields, 12, (e) => text(e, 2) ?? "");
  if (Object.keys(labels).length) meta.labels = labels;
  if (Object.keys(annotations).length) meta.annotations = annotations;
  const owners = (fields.get(13) ?? []).map((o) => {
    const ref = readMessage(o as Uint8Array);
    return {
      kind: text(ref, 1) ?? "",
      name: text(ref, 3) ?? "",
      uid: text(ref, 4) ?? "",
      apiVersion: text(ref, 5) ?? "",
    };
  });
  if (owners.length) meta.ownerReferences = owners;
  return meta;
}

/** A Secret or Namespace posted as protobuf, in its JSON shape; 415 for other resources. */
export function decodeObject(body: Uint8Array, resource: Resource): KubeObject {
  const fields = unwrap(body);
  const metadata = objectMeta(message(fields, 1));
  if (resource === "secrets") {
    const data = map(fields, 2, (e) => {
      const value = e.get(2)?.[0];
      return btoa(String.fromCharCode(...(value instanceof Uint8Array ? value : [])));
    });
    const stringData = map(fields, 4, (e) => text(e, 2) ?? "");
    const type = text(fields, 3);
    const immutable = fields.get(5)?.[0];
    return {
      metadata,
      data,
      ...(Object.keys(stringData).length ? { stringData } : {}),
      ...(type ? { type } : {}),
      ...(immutable !== undefined ? { immutable: immutable === 1 } : {}),
    };
  }
  if (resource === "namespaces") {
    return { metadata, spec: { finalizers: texts(message(fields, 2) ?? new Map(), 1) } };
  }
  throw failure(
    415,
    "UnsupportedMediaType",
    `the local cluster reads ${resource} only as JSON; send Content-Type: application/json`,
  );
}
