/**
 * TCP_NODELAY for the API server's connections, as a real API server has it: Go's net package
 * sets it on every TCP connection. Deno's TLS connections offer no `setNoDelay`, and with Nagle's
 * algorithm on, the first answer after a TLS handshake (an exec's `101 Switching Protocols`, say)
 * waited for the client's delayed ACK of the server's session tickets: 43 ms every time in a
 * loopback test, 4 ms with the option set. Every exec and every first request paid it, which
 * made the step and transfer figures measure the local cluster rather than kubehook.
 *
 * The option is set through libc on every socket the process holds, after each accept: the
 * accepted connection's descriptor is not exposed, setting it twice is harmless, and sockets that
 * are not TCP refuse it harmlessly. Where libc cannot be loaded (no FFI permission, no glibc) the
 * cluster keeps working, only slower.
 *
 * @module
 */

const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;

const SYMBOLS = {
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
} as const;

/** libc, loaded on first use; null when it cannot be. */
let libc: Deno.DynamicLibrary<typeof SYMBOLS> | null | undefined;

function load(): Deno.DynamicLibrary<typeof SYMBOLS> | null {
  if (libc === undefined) {
    try {
      libc = Deno.dlopen("libc.so.6", SYMBOLS);
    } catch {
      libc = null;
    }
  }
  return libc;
}

const ONE = new Int32Array([1]);

/** Turns Nagle's algorithm off on every socket of this process. */
export function noDelayOnAllSockets(): void {
  const lib = load();
  if (!lib) return;
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (!Deno.readLinkSync(`/proc/self/fd/${entry.name}`).startsWith("socket:")) continue;
    } catch {
      continue; // closed meanwhile (or the readdir's own descriptor)
    }
    lib.symbols.setsockopt(Number(entry.name), IPPROTO_TCP, TCP_NODELAY, ONE, ONE.byteLength);
  }
}
