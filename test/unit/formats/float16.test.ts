/**
 * float16 conversions: every half value survives a round trip, rounding is to nearest even at ties
 * (normal and subnormal), out-of-range values become infinities, and the bit-level converter agrees
 * with an independent nearest-half search on many random values.
 */
import { describe, expect, test } from 'vitest';
import {
  float16BitsToFloat32, float16Table, float16ToFloat32, float32ArrayToFloat16Bits, float32BitsToFloat16Bits, float32ToBfloat16Bits, float32ToFloat16Bits,
} from '../../../src/lib/formats/index.ts';
import { Prng } from '../../../src/lib/util/index.ts';

const hex = (bits: number) => `0x${bits.toString(16).padStart(4, '0')}`;
const isNanBits = (bits: number) => (bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0;
const MAX_HALF = 65504;
const SUBNORMAL = 2 ** -24;

/** The float32 number with these bits. */
const fromBits = (bits: number) => new Float32Array(new Uint32Array([bits]).buffer)[0]!;

/**
 * The nearest half to x by search over the positive halves (their values grow with their bits), ties to
 * the even one: written without the library's bit tricks.
 */
function nearestHalf(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= MAX_HALF + 16) return sign | 0x7c00; // 65520 is halfway to 65536 and rounds to even: up
  let lo = 0;
  let hi = 0x7bff;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (float16ToFloat32(mid) <= a) lo = mid;
    else hi = mid - 1;
  }
  if (lo === 0x7bff) return sign | lo;
  const below = a - float16ToFloat32(lo);
  const above = float16ToFloat32(lo + 1) - a;
  return sign | (below < above || (below === above && lo % 2 === 0) ? lo : lo + 1);
}

describe('float16', () => {
  test('every half that is not NaN round-trips exactly, -0 included', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      if (isNanBits(bits)) continue;
      const value = float16ToFloat32(bits);
      if (float32ToFloat16Bits(value) !== bits) expect(hex(float32ToFloat16Bits(value)), `${hex(bits)} = ${value}`).toBe(hex(bits));
    }
    expect(float16ToFloat32(0x8000)).toBe(-0);
    expect(float32ToFloat16Bits(-0)).toBe(0x8000);
  });

  test('known values have their IEEE bits', () => {
    const known: [number, number][] = [
      [1, 0x3c00], [-2, 0xc000], [0.5, 0x3800], [MAX_HALF, 0x7bff], [-MAX_HALF, 0xfbff],
      [2 ** -14, 0x0400], [SUBNORMAL, 0x0001], [1023 * SUBNORMAL, 0x03ff], [1.5, 0x3e00],
    ];
    for (const [value, bits] of known) {
      expect(hex(float32ToFloat16Bits(value)), String(value)).toBe(hex(bits));
      expect(float16ToFloat32(bits)).toBe(value);
    }
    expect(hex(float32ToFloat16Bits(1 / 3))).toBe('0x3555'); // 0.333251953125, the nearest half
  });

  test('a value halfway between two halves rounds to the one with an even last bit', () => {
    const step = 2 ** -10; // the spacing of halves in [1, 2)
    expect(hex(float32ToFloat16Bits(1 + step / 2))).toBe('0x3c00'); // down to even 0x3c00
    expect(hex(float32ToFloat16Bits(1 + 1.5 * step))).toBe('0x3c02'); // up to even 0x3c02
    expect(hex(float32ToFloat16Bits(-(1 + 1.5 * step)))).toBe('0xbc02');
    // Just off the tie goes to the nearer one.
    expect(hex(float32ToFloat16Bits(1 + step / 2 + 2 ** -20))).toBe('0x3c01');
    expect(hex(float32ToFloat16Bits(1 + 1.5 * step - 2 ** -20))).toBe('0x3c01');
    // A carry out of the mantissa moves to the next exponent: 2 - step/2 rounds up to 2.
    expect(hex(float32ToFloat16Bits(2 - step / 4))).toBe('0x4000');
  });

  test('subnormals round to nearest even, and the largest rounds up to the smallest normal', () => {
    expect(float32ToFloat16Bits(0.5 * SUBNORMAL)).toBe(0x0000); // tie: down to even 0
    expect(float32ToFloat16Bits(0.75 * SUBNORMAL)).toBe(0x0001);
    expect(float32ToFloat16Bits(1.5 * SUBNORMAL)).toBe(0x0002); // tie: up to even 2
    expect(float32ToFloat16Bits(2.5 * SUBNORMAL)).toBe(0x0002); // tie: down to even 2
    expect(float32ToFloat16Bits(-2.5 * SUBNORMAL)).toBe(0x8002);
    expect(float32ToFloat16Bits(1023.5 * SUBNORMAL)).toBe(0x0400); // tie: 0x03ff is odd, so up
    expect(float32ToFloat16Bits(1e-10)).toBe(0x0000); // far below the smallest subnormal
    expect(float32ToFloat16Bits(-1e-10)).toBe(0x8000);
    for (let bits = 1; bits < 0x400; bits++) expect(float16ToFloat32(bits)).toBe(bits * SUBNORMAL);
  });

  test('infinities stay infinite, values past the largest half overflow to infinity, NaN stays NaN', () => {
    expect(float32ToFloat16Bits(Infinity)).toBe(0x7c00);
    expect(float32ToFloat16Bits(-Infinity)).toBe(0xfc00);
    expect(float16ToFloat32(0x7c00)).toBe(Infinity);
    expect(float16ToFloat32(0xfc00)).toBe(-Infinity);
    expect(float32ToFloat16Bits(65519)).toBe(0x7bff); // below the halfway point: the largest half
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00); // halfway: rounds to even, which is infinity
    expect(float32ToFloat16Bits(100000)).toBe(0x7c00); // exponent one past the largest
    expect(float32ToFloat16Bits(1e6)).toBe(0x7c00);
    expect(float32ToFloat16Bits(-3.4e38)).toBe(0xfc00);
    const nan = float32ToFloat16Bits(NaN);
    expect(isNanBits(nan)).toBe(true);
    expect(float16ToFloat32(nan)).toBeNaN();
    expect(float16ToFloat32(0x7e00)).toBeNaN();
  });

  test('the bit-level converter agrees with the number converter and with a nearest-half search on random values', () => {
    const rng = new Prng(2024);
    const bitPatterns = new Uint32Array(20000);
    for (let i = 0; i < bitPatterns.length; i++) {
      // Half the patterns are any float32; half have exponents near the half range, where rounding happens.
      bitPatterns[i] = i % 2 ? rng.nextUint32() : ((rng.nextUint32() & 0x807fffff) | ((100 + rng.int(50)) << 23)) >>> 0;
    }
    const values = new Float32Array(bitPatterns.buffer);
    const viaArray = float32ArrayToFloat16Bits(values);
    for (let i = 0; i < bitPatterns.length; i++) {
      const value = values[i]!;
      if (Number.isNaN(value)) continue;
      const bits = float32BitsToFloat16Bits(bitPatterns[i]!);
      if (bits !== float32ToFloat16Bits(value) || bits !== nearestHalf(value) || bits !== viaArray[i]) {
        expect({ value, bits: hex(bits), number: hex(float32ToFloat16Bits(value)), array: hex(viaArray[i]!) }).toEqual({ value, bits: hex(nearestHalf(value)), number: hex(nearestHalf(value)), array: hex(nearestHalf(value)) });
      }
    }
  });

  test('the lookup table and the array converter give float16ToFloat32 for every bit pattern', () => {
    const all = Uint16Array.from({ length: 0x10000 }, (_, i) => i);
    const table = float16Table();
    const converted = float16BitsToFloat32(all);
    for (let bits = 0; bits < 0x10000; bits++) {
      const want = float16ToFloat32(bits);
      if (!Object.is(table[bits], Math.fround(want)) || !Object.is(converted[bits], Math.fround(want))) expect([table[bits], converted[bits]], hex(bits)).toEqual([want, want]);
    }
  });
});

describe('bfloat16', () => {
  test('keeps the top half of a float32, rounding to nearest even, and keeps NaN a NaN', () => {
    expect(float32ToBfloat16Bits(1)).toBe(0x3f80);
    expect(float32ToBfloat16Bits(fromBits(0x3f808000))).toBe(0x3f80); // tie: down to even
    expect(float32ToBfloat16Bits(fromBits(0x3f818000))).toBe(0x3f82); // tie: up to even
    expect(float32ToBfloat16Bits(fromBits(0x3f808001))).toBe(0x3f81);
    expect(float32ToBfloat16Bits(-Infinity)).toBe(0xff80);
    const nan = float32ToBfloat16Bits(NaN);
    expect(nan & 0x7f80).toBe(0x7f80);
    expect(nan & 0x7f).not.toBe(0);
  });
});
