import assert from "node:assert/strict";
import { noDelayOnAllSockets } from "./no_delay.ts";

/** TCP_NODELAY of every TCP socket this process holds, read back through libc. */
function noDelayValues(): number[] {
  const libc = Deno.dlopen("libc.so.6", {
    getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  });
  try {
    const values: number[] = [];
    for (const entry of Deno.readDirSync("/proc/self/fd")) {
      const value = new Int32Array(1);
      const length = new Uint32Array([4]);
      if (libc.symbols.getsockopt(Number(entry.name), 6, 1, value, length) === 0) {
        values.push(value[0]);
      }
    }
    return values;
  } finally {
    libc.close();
  }
}

Deno.test("every TCP socket of the process gets TCP_NODELAY", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  try {
    assert.ok(noDelayValues().includes(0), "a fresh TCP connection has Nagle on");
    noDelayOnAllSockets();
    const values = noDelayValues();
    assert.ok(values.length >= 2, "the test's own sockets are seen");
    assert.deepEqual(values.filter((v) => v === 0), [], "every TCP socket has TCP_NODELAY");
  } finally {
    client.close();
    server.close();
    listener.close();
  }
});
