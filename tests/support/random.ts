/**
 * Seeded randomness for the soak and the property tests: the same seed gives the same sequence on
 * every machine, so a failure found once can be repeated. Each test prints its seed and reads it
 * back from an environment variable.
 *
 * @example
 * ```ts
 * const seed = testSeed("KUBEHOOK_PROPERTY_SEED");
 * const random = generator(seed);
 * random(); // in [0, 1)
 * ```
 * @module
 */

/** mulberry32: small, fast, and well spread for test data. */
export function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed in `variable`, else a random one; printed either way, with how to repeat the run. */
export function testSeed(variable: string): number {
  const given = Deno.env.get(variable);
  const seed = given ? Number(given) : Math.floor(Math.random() * 2 ** 31);
  if (!Number.isSafeInteger(seed)) throw new Error(`${variable}=${given}: use an integer`);
  console.log(`seed ${seed} (${variable}=${seed} repeats this run)`);
  return seed;
}
