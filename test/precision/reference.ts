/**
 * Plain-JS references for src/precision/round.ts that work on the float32 bit pattern
 * (DataView), integer arithmetic only: an independent route to the same numbers.
 */

export type RefFormat = 'bf16' | 'e4m3' | 'e5m2' | 'e2m1';

/**
 * The formats from docs/references.md#number-formats and the OCP FP8 / MX specifications, written out here rather than
 * imported so that the reference shares no numbers with the code under test: mantissa bits m,
 * smallest normal exponent emin, largest finite value, and whether overflow saturates.
 */
const REF_FORMATS: Record<RefFormat, { m: number; emin: number; max: number; saturate: boolean }> = {
  bf16: { m: 7, emin: -126, max: (2 - 2 ** -7) * 2 ** 127, saturate: false }, // bits 0x7F7F0000
  e4m3: { m: 3, emin: -6, max: 448, saturate: true },
  e5m2: { m: 2, emin: -14, max: 57344, saturate: true },
  e2m1: { m: 1, emin: 0, max: 6, saturate: true },
};

const view = new DataView(new ArrayBuffer(4));

export function float32Bits(x: number): number {
  view.setFloat32(0, x);
  return view.getUint32(0);
}

export function bitsToFloat32(u: number): number {
  view.setUint32(0, u >>> 0);
  return view.getFloat32(0);
}

/** docs/references.md#number-formats's bf16 rule on the bits: u + 0x7FFF + ((u >> 16) & 1), keep the top 16 bits. */
export function bf16ByBits(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const u = float32Bits(x);
  const r = (u + 0x7fff + ((u >>> 16) & 1)) >>> 0;
  return bitsToFloat32((r & 0xffff0000) >>> 0);
}

/**
 * Round the float32 value x to `format` from its bits: sign, biased exponent and significand,
 * integer round-half-even of the significand at the format's spacing, then the format's
 * overflow rule (saturate to ±max, or ±Infinity for bf16). NaN stays NaN; a zero keeps x's sign.
 */
export function roundRef(x: number, format: RefFormat): number {
  const r = REF_FORMATS[format];
  const f = { maxFinite: r.max, saturate: r.saturate, minNormalExponent: r.emin, mantissaBits: r.m };
  const u = float32Bits(x);
  const negative = u >>> 31 === 1;
  const biased = (u >>> 23) & 0xff;
  const fraction = u & 0x7fffff;
  const signed = (v: number) => (negative ? -v : v);
  if (biased === 0xff) {
    if (fraction !== 0) return NaN;
    return signed(f.saturate ? f.maxFinite : Infinity);
  }
  // |x| = significand · 2^lowExp, significand an integer < 2^24.
  const significand = biased === 0 ? fraction : fraction | 0x800000;
  const lowExp = biased === 0 ? -149 : biased - 150;
  if (significand === 0) return signed(0);
  const exponent = 31 - Math.clz32(significand) + lowExp; // floor(log2 significand) + lowExp
  // The format's spacing at this magnitude: 2^(max(e, emin) − m).
  const spacingExp = Math.max(exponent, f.minNormalExponent) - f.mantissaBits;
  const shift = spacingExp - lowExp; // ≥ 16 for every format here
  let magnitude: number;
  if (shift > 25) {
    magnitude = 0; // significand < 2^24 ≤ 2^(shift − 2): below a quarter of the spacing
  } else {
    const unit = 2 ** shift;
    let q = Math.floor(significand / unit);
    const rest = significand - q * unit;
    const half = unit / 2;
    if (rest > half || (rest === half && q % 2 === 1)) q += 1;
    magnitude = q * 2 ** spacingExp;
  }
  if (magnitude > f.maxFinite) magnitude = f.saturate ? f.maxFinite : Infinity;
  return signed(Math.fround(magnitude));
}

/** Per-tensor scaled FP8: amax = max |x| floored at 2^-64; an Inf or NaN anywhere makes all NaN. */
export function quantizeScaledRef(xs: Float32Array, format: 'e4m3' | 'e5m2'): Float32Array {
  let amax = 0;
  for (const v of xs) amax = Number.isFinite(v) ? Math.max(amax, Math.abs(v)) : NaN;
  amax = Math.max(amax, 2 ** -64);
  const s = Math.fround(REF_FORMATS[format].max / amax);
  return xs.map((v) => Math.fround(roundRef(Math.fround(v * s), format) / s));
}

/**
 * MXFP4 on a row-major tensor of `shape`, blocks of 32 along `axis`: X = 2^(floor(log2 amax) − 2)
 * clamped to [2^-127, 2^127], elements v/X rounded to E2M1 (saturating at ±6) times X; a block
 * with a non-finite element is all NaN.
 */
export function quantizeMxfp4Ref(xs: Float32Array, shape: readonly number[], axis: number): Float32Array {
  const n = shape[axis]!;
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const out = new Float32Array(xs.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      for (let start = 0; start < n; start += 32) {
        const idx: number[] = [];
        for (let j = start; j < Math.min(n, start + 32); j++) idx.push((o * n + j) * inner + i);
        let amax = 0;
        let finite = true;
        for (const k of idx) {
          const v = xs[k]!;
          if (!Number.isFinite(v)) finite = false;
          else amax = Math.max(amax, Math.abs(v));
        }
        // floor(log2) from the bits: exact for normals and subnormals alike.
        let e = -Infinity;
        if (amax > 0) {
          const u = float32Bits(amax);
          const biased = (u >>> 23) & 0xff;
          e = biased === 0 ? 31 - Math.clz32(u & 0x7fffff) - 149 : biased - 127;
        }
        const scaleExp = Math.min(127, Math.max(-127, e - 2));
        const scale = 2 ** scaleExp;
        for (const k of idx) {
          out[k] = finite ? roundRef(Math.fround(xs[k]! / scale), 'e2m1') * scale : NaN;
        }
      }
    }
  }
  return out;
}
