/**
 * Work a process can start early, off its main thread, so that its first call to the API server
 * does not wait for it.
 *
 * @module
 */

/** Every hook talks to the API server, and the first TLS handshake of a process spends about 20
 * ms of the main thread setting up Deno's crypto library (a later handshake takes 1–3 ms). An
 * elliptic-curve key generated now makes the same set-up happen on one of Deno's blocking
 * threads while the main thread reads the input and loads the hook's modules: the first
 * handshake then took 3–5 ms instead of 23–27 ms (docs/performance.md, "the remaining goals").
 * The key is never used. Call it first thing; it returns at once. */
export function warmUpTls(): void {
  crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"])
    .catch(() => {});
}
