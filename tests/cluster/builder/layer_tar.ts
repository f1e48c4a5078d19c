/**
 * Layer blobs, both ways. Unpacking applies an OCI layer to a root directory: its whiteouts
 * (`.wh.<name>` deletes `<name>` of the layers below, `.wh..wh..opq` empties the directory) first,
 * then its files, extracted by GNU tar with their owners and modes (the executor); or unpacks it
 * into a directory of its own with its whiteouts turned into overlayfs' marks (the kubelet, which
 * stacks layers with overlayfs). Writing turns a list of changed paths of a root (and deleted
 * ones, as whiteouts) into a tar+gzip layer, computing the blob digest (of the gzip) and the diff
 * ID (of the tar) the config lists.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { dirname } from "node:path";

/** A written layer blob. */
export interface LayerFile {
  path: string;
  digest: string;
  diffId: string;
  size: number;
  mediaType: string;
}

const WHITEOUT = ".wh.";
const OPAQUE = ".wh..wh..opq";

/** How a layer's whiteouts are unpacked: applied to the root below it (`apply`: the executor's
 * single root), or kept as overlayfs marks in a directory of the layer's own (`overlay`: the
 * kubelet's cached layers, stacked as lower directories): a `.wh.<name>` becomes the character
 * device 0/0 `<name>`, a `.wh..wh..opq` the xattr `trusted.overlay.opaque=y` of its directory. */
export type WhiteoutMode = "apply" | "overlay";

/** Unpacks the layer at `blob` (tar, optionally gzip) into `root` as `mode` says, its files
 * extracted by GNU tar (`tar`) with their owners and modes. */
export async function unpackLayer(
  blob: string,
  root: string,
  tar = "tar",
  mode: WhiteoutMode = "apply",
): Promise<void> {
  const listed = await new Deno.Command(tar, {
    args: ["-tf", blob],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!listed.success) throw new Error(`reading layer ${blob}: ${decode(listed.stderr)}`);
  const whiteouts: { dir: string; name?: string }[] = [];
  for (const raw of decode(listed.stdout).split("\n")) {
    const name = raw.replace(/^\.?\/+/, "").replace(/\/$/, "");
    const base = name.slice(name.lastIndexOf("/") + 1);
    if (!base.startsWith(WHITEOUT) || name.split("/").includes("..")) continue;
    const dir = `${root}/${name.slice(0, name.length - base.length)}`;
    whiteouts.push(base === OPAQUE ? { dir } : { dir, name: base.slice(WHITEOUT.length) });
  }
  if (mode === "apply") {
    for (const { dir, name } of whiteouts) {
      if (name === undefined) {
        const entries = await Array.fromAsync(Deno.readDir(dir)).catch(() => []);
        for (const entry of entries) await Deno.remove(`${dir}/${entry.name}`, { recursive: true });
      } else {
        await Deno.remove(`${dir}${name}`, { recursive: true }).catch(() => {});
      }
    }
  }
  const extracted = await new Deno.Command(tar, {
    args: [
      "-xf",
      blob,
      "-C",
      root,
      "--numeric-owner",
      "--same-owner",
      "--same-permissions",
      "--exclude=.wh.*",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!extracted.success) throw new Error(`extracting layer ${blob}: ${decode(extracted.stderr)}`);
  if (mode === "overlay") {
    for (const { dir, name } of whiteouts) {
      await Deno.mkdir(dir, { recursive: true });
      if (name === undefined) overlayMarks().opaque(dir);
      // A name the layer also holds is not deleted by it (only a malformed layer has both).
      else if (!await Deno.lstat(`${dir}${name}`).then(() => true, () => false)) {
        overlayMarks().whiteout(`${dir}${name}`);
      }
    }
  }
}

/** overlayfs' marks, made through libc (no program of the host sets a trusted xattr). */
let marks: { opaque(dir: string): void; whiteout(path: string): void } | undefined;
function overlayMarks(): NonNullable<typeof marks> {
  if (marks) return marks;
  const libc = Deno.dlopen("libc.so.6", {
    setxattr: { parameters: ["buffer", "buffer", "buffer", "usize", "i32"], result: "i32" },
    mknod: { parameters: ["buffer", "u32", "u64"], result: "i32" },
  });
  const cString = (text: string) => encoder.encode(`${text}\0`);
  const S_IFCHR = 0o020000;
  marks = {
    opaque(dir) {
      const value = encoder.encode("y");
      if (libc.symbols.setxattr(cString(dir), cString("trusted.overlay.opaque"), value, 1n, 0)) {
        throw new Error(`cannot mark ${dir} opaque (setxattr trusted.overlay.opaque failed)`);
      }
    },
    whiteout(path) {
      if (libc.symbols.mknod(cString(path), S_IFCHR, 0n)) {
        throw new Error(`cannot make the whiteout ${path} (mknod failed)`);
      }
    },
  };
  return marks;
}

/** Writes a tar+gzip layer of `changed` paths of `root` (relative, parents first) and
 * whiteouts for `deleted` ones to `target`. */
export async function writeLayer(
  root: string,
  changed: readonly string[],
  deleted: readonly string[],
  target: string,
): Promise<LayerFile> {
  const tarHash = createHash("sha256");
  const gzHash = createHash("sha256");
  let size = 0;
  const entries = tarEntries(root, changed, deleted);
  const tarStream = ReadableStream.from(entries).pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        tarHash.update(chunk);
        controller.enqueue(chunk);
      },
    }),
  );
  const file = await Deno.open(target, { write: true, create: true, truncate: true });
  await tarStream.pipeThrough(
    new CompressionStream("gzip") as TransformStream<Uint8Array, Uint8Array>,
  ).pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        gzHash.update(chunk);
        size += chunk.length;
        controller.enqueue(chunk);
      },
    }),
  ).pipeTo(file.writable);
  return {
    path: target,
    digest: `sha256:${gzHash.digest("hex")}`,
    diffId: `sha256:${tarHash.digest("hex")}`,
    size,
    mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
  };
}

async function* tarEntries(
  root: string,
  changed: readonly string[],
  deleted: readonly string[],
): AsyncGenerator<Uint8Array> {
  const links = new Map<string, string>();
  for (const path of changed) {
    const info = await Deno.lstat(`${root}/${path}`);
    const meta = { mode: info.mode! & 0o7777, uid: info.uid!, gid: info.gid!, mtime: info.mtime };
    if (info.isFile && info.nlink! > 1) {
      const key = `${info.dev}:${info.ino}`;
      const first = links.get(key);
      if (first) {
        yield* header({ ...meta, name: path, type: "1", linkname: first });
        continue;
      }
      links.set(key, path);
    }
    if (info.isDirectory) yield* header({ ...meta, name: `${path}/`, type: "5" });
    else if (info.isSymlink) {
      yield* header({
        ...meta,
        name: path,
        type: "2",
        linkname: await Deno.readLink(`${root}/${path}`),
      });
    } else if (info.isFile) {
      yield* header({ ...meta, name: path, type: "0", size: info.size });
      const file = await Deno.open(`${root}/${path}`);
      let sent = 0;
      for await (const chunk of file.readable) {
        // A file that grew since its stat is cut at the size the header announced.
        const part = chunk.subarray(0, Math.max(0, info.size - sent));
        sent += part.length;
        if (part.length) yield part;
      }
      if (sent < info.size) yield new Uint8Array(info.size - sent);
      if (info.size % 512) yield new Uint8Array(512 - (info.size % 512));
    } else {
      const type = info.isCharDevice
        ? "3"
        : info.isBlockDevice
        ? "4"
        : info.isFifo
        ? "6"
        : undefined;
      // Sockets are not kept in images.
      if (!type) continue;
      const rdev = info.rdev ?? 0;
      yield* header({
        ...meta,
        name: path,
        type,
        devmajor: (rdev >> 8) & 0xfff,
        devminor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
      });
    }
  }
  for (const path of deleted) {
    const dir = dirname(path);
    const base = path.slice(path.lastIndexOf("/") + 1);
    const name = dir === "." ? `${WHITEOUT}${base}` : `${dir}/${WHITEOUT}${base}`;
    yield* header({ name, type: "0", mode: 0o644, uid: 0, gid: 0, mtime: null });
  }
  yield new Uint8Array(1024);
}

interface Header {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date | null;
  size?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
}

const encoder = new TextEncoder();

/** A ustar header, preceded by a PAX record when a name is too long for it. */
function* header(h: Header): Generator<Uint8Array> {
  const name = encoder.encode(h.name);
  const link = encoder.encode(h.linkname ?? "");
  const pax: string[] = [];
  if (name.length > 100) pax.push(record("path", h.name));
  if (link.length > 100) pax.push(record("linkpath", h.linkname!));
  if (pax.length) {
    const body = encoder.encode(pax.join(""));
    yield block({ ...h, name: "PaxHeader", type: "x", size: body.length, linkname: "" });
    yield body;
    if (body.length % 512) yield new Uint8Array(512 - (body.length % 512));
  }
  yield block(h);
}

/** One PAX record: its length counts itself. */
function record(key: string, value: string): string {
  const bytes = encoder.encode(` ${key}=${value}\n`).length;
  let length = bytes + 1;
  while (String(length).length + bytes !== length) length = String(length).length + bytes;
  return `${length} ${key}=${value}\n`;
}

function block(h: Header): Uint8Array {
  const b = new Uint8Array(512);
  const put = (offset: number, width: number, value: string) =>
    b.set(encoder.encode(value).subarray(0, width), offset);
  const octal = (offset: number, width: number, value: number) =>
    put(offset, width, value.toString(8).padStart(width - 1, "0") + "\0");
  put(0, 100, h.name);
  octal(100, 8, h.mode);
  octal(108, 8, h.uid);
  octal(116, 8, h.gid);
  octal(124, 12, h.size ?? 0);
  octal(136, 12, Math.max(0, Math.floor((h.mtime?.getTime() ?? 0) / 1000)));
  put(148, 8, "        ");
  put(156, 1, h.type);
  put(157, 100, h.linkname ?? "");
  put(257, 8, "ustar\x0000");
  octal(329, 8, h.devmajor ?? 0);
  octal(337, 8, h.devminor ?? 0);
  const sum = b.reduce((total, byte) => total + byte, 0);
  put(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return b;
}

function decode(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes).trim();
}
