// Seeded input generators. Integer arithmetic only up to the final scaling, so the same seed gives
// the same float32 bytes on every platform (normal() also uses Math.log/cos/sqrt: V8's are fdlibm ports).

/** 32-bit FNV-1a of a string: the default seed of a generated tensor. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** mulberry32: a small 32-bit generator; returns uint32 values. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

export type Generator =
  | { kind: 'uniform'; low: number; high: number; seed: number }
  | { kind: 'integers'; low: number; high: number; seed: number }
  | { kind: 'normal'; mean: number; std: number; seed: number };

const TWO_32 = 4294967296;

export function generate(count: number, g: Generator): Float32Array {
  const next = mulberry32(g.seed);
  const out = new Float32Array(count);
  switch (g.kind) {
    case 'uniform':
      for (let i = 0; i < count; i++) out[i] = g.low + (g.high - g.low) * (next() / TWO_32);
      break;
    case 'integers': {
      const span = Math.floor(g.high) - Math.ceil(g.low) + 1;
      for (let i = 0; i < count; i++) out[i] = Math.ceil(g.low) + Math.floor((next() / TWO_32) * span);
      break;
    }
    case 'normal':
      for (let i = 0; i < count; i += 2) {
        const u1 = (next() + 1) / (TWO_32 + 1); // (0, 1]: log stays finite
        const u2 = next() / TWO_32;
        const r = Math.sqrt(-2 * Math.log(u1));
        out[i] = g.mean + g.std * r * Math.cos(2 * Math.PI * u2);
        if (i + 1 < count) out[i + 1] = g.mean + g.std * r * Math.sin(2 * Math.PI * u2);
      }
      break;
  }
  return out;
}
