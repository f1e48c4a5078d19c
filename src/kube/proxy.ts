/**
 * HTTP(S) proxies for the exec WebSocket, chosen from the same environment variables Deno's
 * `fetch` reads for the REST calls (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, upper or lower case),
 * so that both kinds of call take the same path: behind a proxy the REST calls went through it
 * while every exec tried the API server directly. The WebSocket reaches the server through an
 * HTTP `CONNECT` tunnel, as kubectl does.
 *
 * @example
 * ```ts
 * const proxy = proxyFor(new URL("https://10.96.0.1:443"), Deno.env.toObject());
 * const tcp = proxy ? await openTunnel(proxy, "10.96.0.1", 443) : await Deno.connect({ ... });
 * ```
 * @module
 */
import { writeAll } from "./websocket_handshake.ts";

/** The proxy to reach `target` through, or undefined for a direct connection. Throws when the
 * variable does not hold a usable proxy URL, naming it and the fix. */
export function proxyFor(target: URL, env: Record<string, string | undefined>): URL | undefined {
  const name = target.protocol === "https:" || target.protocol === "wss:"
    ? "HTTPS_PROXY"
    : "HTTP_PROXY";
  const value = env[name] || env[name.toLowerCase()];
  if (!value) return undefined;
  const noProxy = env.NO_PROXY ?? env.no_proxy ?? "";
  const host = target.hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  const port = target.port || (target.protocol === "https:" ? "443" : "80");
  if (excluded(host, port, noProxy)) return undefined;
  let proxy: URL;
  // A proxy URL may carry a password: errors show it without one.
  const shown = value.replace(/(^|\/\/)[^/@\s]*@/, "$1***@");
  try {
    proxy = new URL(value.includes("://") ? value : `http://${value}`);
  } catch {
    throw new Error(`${name}="${shown}" is not a URL: set it to http://HOST:PORT, or unset it.`);
  }
  if (proxy.protocol !== "http:") {
    throw new Error(
      `${name}="${shown}": kubehook reaches the API server through plain http:// proxies only ` +
        `(HTTP CONNECT). Use the proxy's http:// address, or add ${host} to NO_PROXY.`,
    );
  }
  return proxy;
}

/** Whether NO_PROXY (comma- or space-separated: `*`, host names, `.domain` suffixes, IP addresses
 * and IPv4 CIDR ranges, each optionally with `:port`) exempts `host`. */
function excluded(host: string, port: string, noProxy: string): boolean {
  for (const raw of noProxy.split(/[\s,]+/).filter(Boolean)) {
    let entry = raw.toLowerCase();
    if (entry === "*") return true;
    const withPort = /^(.*[^:]):(\d+)$/.exec(entry);
    if (withPort && !entry.includes("/") && !isIpv6(entry)) {
      if (withPort[2] !== port) continue;
      entry = withPort[1];
    }
    entry = entry.replace(/^\[(.*)\]$/, "$1").replace(/^\*?\./, "");
    if (host === entry || host.endsWith(`.${entry}`)) return true;
    if (entry.includes("/") && inCidr(host, entry)) return true;
  }
  return false;
}

function isIpv6(text: string): boolean {
  return text.split(":").length > 2;
}

function inCidr(host: string, cidr: string): boolean {
  const [base, bits] = cidr.split("/");
  const a = ipv4(host);
  const b = ipv4(base);
  const n = Number(bits);
  if (a === undefined || b === undefined || !Number.isInteger(n) || n < 0 || n > 32) return false;
  const mask = n === 0 ? 0 : (~0 << (32 - n)) >>> 0;
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

function ipv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    return undefined;
  }
  return parts.reduce((sum, p) => sum * 256 + Number(p), 0);
}

/** Opens a TCP connection to `hostname:port` through the proxy's `CONNECT` tunnel (with the
 * proxy URL's user and password as Basic credentials). Throws with the proxy's answer when it
 * refuses. */
export async function openTunnel(
  proxy: URL,
  hostname: string,
  port: number,
): Promise<Deno.TcpConn> {
  const tcp = await Deno.connect({
    hostname: proxy.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(proxy.port) || 80,
  });
  tcp.setNoDelay(true);
  try {
    const authority = `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
    const credentials = proxy.username
      ? `Proxy-Authorization: Basic ${
        btoa(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`)
      }\r\n`
      : "";
    await writeAll(
      tcp,
      new TextEncoder().encode(
        `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${credentials}\r\n`,
      ),
    );
    const head = await readHead(tcp);
    const status = /^HTTP\/1\.[01] (\d{3})[^\r\n]*/.exec(head);
    if (status?.[1] !== "200") {
      throw new Error(
        `the proxy ${proxy.host} refused to open a tunnel to ${authority} ` +
          `(${status?.[0] ?? "no HTTP answer"}): allow CONNECT to the API server there, ` +
          `or add ${hostname} to NO_PROXY`,
      );
    }
    return tcp;
  } catch (err) {
    tcp.close();
    throw err;
  }
}

/** Reads the proxy's answer up to its blank line, one byte at a time: nothing of the tunnelled
 * stream (the TLS handshake that follows) may be consumed. A CONNECT answer is a few lines. */
async function readHead(conn: Deno.Conn): Promise<string> {
  const byte = new Uint8Array(1);
  let head = "";
  while (!head.endsWith("\r\n\r\n")) {
    if (head.length > 16 * 1024) throw new Error("the proxy's answer has no end");
    if ((await conn.read(byte)) === null) {
      throw new Error(`the proxy closed the connection (${head.trim() || "no answer"})`);
    }
    head += String.fromCharCode(byte[0]);
  }
  return head;
}
