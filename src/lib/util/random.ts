/**
 * The one seeded generator: splitmix32 (32-bit state advanced by the golden-ratio constant, then two
 * multiply-xorshift rounds). Integer arithmetic only, so the same seed gives the same numbers on every
 * platform; normals use Math.log/cos/sin/sqrt, whose V8 implementations are fixed ports of fdlibm.
 * Used for the row shuffle, fixtures, synthetic benchmark data and tests.
 */
export function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Uniform in [0, bound) for 1 <= bound <= 2^32, by rejection (no modulo bias). */
export function below(next: () => number, bound: number): number {
  const limit = 2 ** 32 - (2 ** 32 % bound);
  for (;;) {
    const x = next();
    if (x < limit) return x % bound;
  }
}

/** splitmix32 with uniform, integer and normal draws. */
export class Prng {
  private readonly next: () => number;
  private spare: number | undefined;

  constructor(seed: number) {
    this.next = splitmix32(seed);
  }

  /** The next uniform 32-bit unsigned integer. */
  nextUint32(): number {
    return this.next();
  }

  /** Uniform in (0, 1): never exactly 0, so log() is finite. */
  uniform(): number {
    return (this.next() + 0.5) / 4294967296;
  }

  /** Uniform integer in [0, bound). */
  int(bound: number): number {
    return below(this.next, bound);
  }

  /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spare !== undefined) {
      const value = this.spare;
      this.spare = undefined;
      return value;
    }
    const radius = Math.sqrt(-2 * Math.log(this.uniform()));
    const angle = 2 * Math.PI * this.uniform();
    this.spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /** `count` float32 values: mean + std * normal. */
  normals(count: number, std: number, mean = 0): Float32Array {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = mean + std * this.normal();
    return out;
  }
}
