// Seeded randomness for the simulator, so one seed replays one run: a small PRNG for sequences
// (names, coordinates) and a keyed draw for decisions that must not depend on the order calls arrive in.

/** A PRNG (mulberry32) over a 32-bit seed: numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit hash of a string (FNV-1a), to turn text seeds and keys into numbers. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A number in [0, 1) that depends only on the seed and the key: the same decision comes out however
 * the concurrent calls around it interleave.
 *
 * @example draw(7, 'apply', 'ConfigMap/shop/menu', 2) // the same value on every run with seed 7
 */
export function draw(seed: number, ...key: Array<string | number>): number {
  return seededRandom(hash32(`${seed}\u0000${key.join('\u0000')}`))();
}
