// A small seeded PRNG (sfc32) with a seed derived from (run seed, vehicle index, stream), so every
// vehicle's path and GPS noise can be recomputed offline from the run's seed alone.

/** Mixes one 32-bit value (the finaliser of MurmurHash3), to spread nearby seeds apart. */
function mix32(h: number): number {
  let x = h >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Which of a vehicle's independent random streams: its motion and its GPS noise. */
export const STREAM_MOTION = 1;
export const STREAM_NOISE = 2;

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Chaotic PRNG): four 32-bit words of state, passes
 * PractRand to 2^37 bytes, far more than a simulation run draws.
 */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** A generator for one stream of one vehicle of a run. `seed` is any safe integer. */
  constructor(seed: number, index: number, stream: number) {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 2 ** 32) >>> 0;
    this.a = mix32(lo ^ 0x9e3779b9);
    this.b = mix32(hi ^ mix32(index + 0x7f4a7c15));
    this.c = mix32(mix32(index) ^ Math.imul(stream, 0x632be5ab));
    this.d = 1;
    // The first outputs of a fresh sfc32 are weakly mixed: discard them.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box–Muller; the second value is not kept, to keep the state small). */
  gaussian(): number {
    const u = 1 - this.next(); // (0, 1]: log(0) is avoided
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}
