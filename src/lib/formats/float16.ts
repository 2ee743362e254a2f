/**
 * IEEE half precision (float16) and bfloat16, both ways. The cache stores activation values as float16
 * bits; SAE files and delphi caches come in F16 and BF16.
 */

/** float16 bits -> the number they stand for. */
export function float16ToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

let halfValues: Float32Array | undefined;
/** Every half value by its bits: a lookup is cheaper than bit twiddling for millions of values. */
export function float16Table(): Float32Array {
  if (!halfValues) {
    halfValues = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) halfValues[bits] = float16ToFloat32(bits);
  }
  return halfValues;
}

/** float16 bits -> float32 values. */
export function float16BitsToFloat32(bits: Uint16Array): Float32Array {
  const table = float16Table();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]!]!;
  return out;
}

/**
 * float32 bit pattern -> float16 bits, round to nearest even. Works on the bits so that millions of
 * values convert without allocating (read them through a Uint32Array view of the Float32Array).
 */
export function float32BitsToFloat16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >> shift;
    const remainder = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >> 13);
  const remainder = mantissa & 0x1fff;
  if (remainder > 0x1000 || (remainder === 0x1000 && half & 1)) half++;
  return sign | half;
}

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** A number -> float16 bits (rounded to float32 first, then to half, nearest even). */
export function float32ToFloat16Bits(value: number): number {
  scratch[0] = value;
  return float32BitsToFloat16Bits(scratchBits[0]!);
}

/** float32 values -> float16 bits. */
export function float32ArrayToFloat16Bits(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = float32BitsToFloat16Bits(bits[i]!);
  return out;
}

/** A number -> bfloat16 bits (round to nearest even). */
export function float32ToBfloat16Bits(value: number): number {
  scratch[0] = value;
  const x = scratchBits[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}
