/**
 * Where decoded objects came from: each remembers its source bytes and a snapshot of its decoded
 * value, so that encoding writes an unchanged object back byte for byte and re-encodes only edits.
 */

interface Source {
  bytes: Uint8Array;
  snapshot: unknown;
}

/** Decoded object -> its source bytes and a snapshot of its decoded value. */
const sources = new WeakMap<object, Source>();

function clone(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clone);
  if (value instanceof Uint8Array) return value; // immutable by convention
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = clone(v);
    return out;
  }
  return value;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.byteLength !== b.byteLength) return false;
  if (a.buffer === b.buffer && a.byteOffset === b.byteOffset) return true;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && sameBytes(a, b);
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!same(a[i], b[i])) return false;
    return true;
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
    if (ka.length !== kb.length) return false;
    for (const k of ka) if (!same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
    return true;
  }
  return false;
}

export function remember<T extends object>(value: T, bytes: Uint8Array): T {
  sources.set(value, { bytes, snapshot: clone(value) });
  return value;
}

/** The object's source bytes if it is unchanged since decoding. */
export function unchangedSource(value: object): Uint8Array | undefined {
  const source = sources.get(value);
  return source && same(value, source.snapshot) ? source.bytes : undefined;
}
