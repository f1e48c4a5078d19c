/**
 * Just enough Kubernetes protobuf to read what kubectl's typed clients send: the `k8s\0`
 * envelope (`runtime.Unknown`) and the spec of self-subject reviews (`kubectl auth can-i` posts
 * them as `application/vnd.kubernetes.protobuf`). Answers always go back as JSON, which those
 * clients accept too.
 *
 * @module
 */
import { badRequest } from "./status.ts";

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
