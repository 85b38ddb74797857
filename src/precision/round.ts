/**
 * Simulated low-precision number formats as tfjs ops (docs/references.md#number-formats): float32 values rounded to
 * bf16, FP8 E4M3 / E5M2 and FP4 E2M1 with round-to-nearest-even, plus FP8 with per-tensor amax
 * scaling and MXFP4 (blocks of 32 with a shared power-of-two scale). Results stay float32 tensors
 * holding exactly the representable values; every function works inside tf.tidy on every backend.
 *
 * Why not the textbook bit trick (u + 0x7FFF + lsb on the float32 bits): tfjs has no bitcast on all
 * backends and float32 → int32 casts truncate the value. Instead, the rounding uses exact float32
 * arithmetic, which wasm (f32 ops) and cpu (float64 ops stored to a Float32Array: one rounding per
 * op, and double rounding is innocuous for +, −, × of float32 operands) both provide:
 * - Normal range: Veltkamp's splitting. With C = 2^(23−m) + 1, γ = C·x, δ = x − γ, hi = γ + δ is
 *   x rounded to m mantissa bits, ties to even. It is scale-invariant (powers of two pass through
 *   exactly), so checking every float32 of one binade for each m proves it for all normal inputs
 *   whose intermediates do not overflow; test/precision/round.test.ts does that check.
 * - Below the format's smallest normal 2^emin, a fixed grid of spacing q = 2^(emin−m):
 *   (x + M) − M with M = 1.5·2^23·q rounds x to a multiple of q, ties to even (M is an even
 *   multiple of q and the sum stays in M's binade, whose spacing is q).
 * - A result of zero takes x's sign (x·0), as the bit-level rounding keeps the sign bit.
 * - Saturation and NaN (docs/references.md#number-formats; OCP FP8 "saturation mode", NVIDIA `__NV_SATFINITE`): FP8 and
 *   FP4 clamp every magnitude above the largest finite value, ±Infinity included, to ±max; bf16,
 *   like torch's `.bfloat16()`, rounds overflow to ±Infinity. NaN stays NaN everywhere.
 *   tf.minimum/maximum keep NaN on wasm and cpu; tf.clipByValue does not on wasm (it returns the bound).
 */
import { tf } from '../tf.js';

export const ELEMENT_FORMATS = ['bf16', 'e4m3', 'e5m2', 'e2m1'] as const;
export type ElementFormat = (typeof ELEMENT_FORMATS)[number];

export interface FormatSpec {
  /** Stored mantissa (fraction) bits. */
  readonly mantissaBits: number;
  /** Exponent of the smallest normal value (1 − bias). */
  readonly minNormalExponent: number;
  /** Largest finite magnitude. */
  readonly maxFinite: number;
  /** Overflow: clamp to ±maxFinite (true) or round to ±Infinity (false). */
  readonly saturate: boolean;
}

/** docs/references.md#number-formats; OCP 8-bit Floating Point Specification (OFP8) rev 1.0; OCP Microscaling v1.0. */
export const FORMATS: Readonly<Record<ElementFormat, FormatSpec>> = {
  // bf16: float32's 8-bit exponent, 7 mantissa bits; largest (2 − 2⁻⁷)·2¹²⁷.
  bf16: { mantissaBits: 7, minNormalExponent: -126, maxFinite: (2 - 2 ** -7) * 2 ** 127, saturate: false },
  // E4M3 (bias 7, no infinity, S.1111.111 is NaN): largest 1.75·2⁸ = 448, smallest subnormal 2⁻⁹.
  e4m3: { mantissaBits: 3, minNormalExponent: -6, maxFinite: 448, saturate: true },
  // E5M2 (bias 15, IEEE-like): largest 1.75·2¹⁵ = 57344, smallest subnormal 2⁻¹⁶.
  e5m2: { mantissaBits: 2, minNormalExponent: -14, maxFinite: 57344, saturate: true },
  // E2M1 (bias 1, no Inf/NaN): magnitudes {0, 0.5, 1, 1.5, 2, 3, 4, 6}.
  e2m1: { mantissaBits: 1, minNormalExponent: 0, maxFinite: 6, saturate: true },
};

const FLOAT32_MAX = 3.4028234663852886e38;

/** Veltkamp's hi part of x at m mantissa bits (round to nearest, ties to even; see the header). */
function veltkamp(x: tf.Tensor, mantissaBits: number): tf.Tensor {
  const gamma = tf.mul(x, 2 ** (23 - mantissaBits) + 1);
  return tf.add(gamma, tf.sub(x, gamma));
}

/** x rounded to a multiple of q = 2^(emin − m), ties to even; exact for |x| < 2^emin. */
function fixedGrid(x: tf.Tensor, f: FormatSpec): tf.Tensor {
  const magic = 1.5 * 2 ** (23 + f.minNormalExponent - f.mantissaBits);
  return tf.sub(tf.add(x, magic), magic);
}

/**
 * `whenZero` where mask = 0 and `whenOne` where mask = 1, by arithmetic: on wasm tf.where and the
 * comparison ops are 10–30× slower than add/mul/step (3–4 ms against 0.1–0.3 ms on 200k values).
 * Exact here: the unused side is finite, and where mask = 1, `whenOne − whenZero` is exact (both
 * are small multiples of a common power of two), so adding it back gives `whenOne`.
 */
function blend(mask: tf.Tensor, whenZero: tf.Tensor, whenOne: tf.Tensor): tf.Tensor {
  return tf.add(whenZero, tf.mul(mask, tf.sub(whenOne, whenZero)));
}

/**
 * Magnitudes a ≥ 0 (finite, small enough that C·a does not overflow) rounded to the format's
 * grid, ignoring its largest value: the fixed subnormal grid below 2^emin, Veltkamp above.
 * tf.step(2^emin − a) is 1 exactly below 2^emin (and NaN for NaN).
 */
function roundMagnitude(a: tf.Tensor, f: FormatSpec): tf.Tensor {
  const tiny = tf.step(tf.sub(2 ** f.minNormalExponent, a));
  return blend(tiny, veltkamp(a, f.mantissaBits), fixedGrid(a, f));
}

/**
 * A factor with x's sign that is ±1 wherever the rounded magnitude can be nonzero, and ±0 for
 * ±0, so magnitude·sign keeps a zero's sign bit as the bit-level rounding does. x·2¹²⁷ reaches ±1
 * for |x| ≥ 2⁻¹²⁷; smaller x have magnitudes that round to 0 in every format but bf16 (and in
 * scaled FP8, see quantizeScaled), where it takes a second factor (|x| ≥ 2⁻¹⁴⁹: x·2¹⁵⁰).
 * NaN gives −1 on wasm (its clip returns the bound): the magnitude carries the NaN.
 */
function signOf(x: tf.Tensor, tiny: boolean): tf.Tensor {
  const scaled = tf.mul(x, 2 ** 127);
  return tf.clipByValue(tiny ? tf.mul(scaled, 2 ** 23) : scaled, -1, 1);
}

/** NaN where x is NaN, else 0: tf.step keeps NaN on both backends, and 0·{0, 1} = 0. */
function nanOf(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.step(x), 0);
}

/**
 * bf16's normal range reaches float32's top, where C·a overflows: magnitudes above 2^100 are
 * rounded at 2⁻⁶⁴ scale and scaled back (both exact; the float32 maximum and Infinity, clipped to
 * it, come back as Infinity as torch's cast gives), and chosen by step(a − 2^100).
 */
function roundBf16(x: tf.Tensor): tf.Tensor {
  const f = FORMATS.bf16;
  const a = tf.abs(x);
  const small = roundMagnitude(tf.clipByValue(a, 0, 2 ** 100), f);
  const big = tf.mul(veltkamp(tf.mul(tf.clipByValue(a, 2 ** 100, FLOAT32_MAX), 2 ** -64), f.mantissaBits), 2 ** 64);
  const isBig = tf.step(tf.sub(a, 2 ** 100));
  // small·(1 − m) + big·m, not blend(): big − small is inexact and big may be Infinity.
  const magnitude = tf.add(tf.mul(small, tf.sub(1, isBig)), tf.mul(big, isBig));
  return tf.mul(tf.add(magnitude, nanOf(x)), signOf(x, true));
}


/**
 * Round float32 values to `format` (round to nearest, ties to even; saturation and NaN as in the
 * header). The result is a float32 tensor of the same shape holding representable values only.
 * Every op here is one wasm and cpu run fast (add, mul, abs, clip, step): see blend().
 */
export function roundToFormat(x: tf.Tensor, format: ElementFormat): tf.Tensor {
  return tf.tidy(() => {
    if (format === 'bf16') return roundBf16(x);
    const f = FORMATS[format];
    // Clipping the magnitude to 2·max first (a power-of-two multiple of max, so representable at
    // this precision) keeps C·a finite and turns Infinity into a value that then saturates.
    const a = tf.clipByValue(tf.abs(x), 0, 2 * f.maxFinite);
    const magnitude = tf.clipByValue(roundMagnitude(a, f), 0, f.maxFinite);
    // Nonzero results need |x| > 2⁻¹⁷ (half E5M2's smallest subnormal): one factor in signOf.
    return tf.mul(tf.add(magnitude, nanOf(x)), signOf(x, false));
  });
}

/** Below this, amax counts as this (keeps the scale finite for an all-zero or tiny tensor). */
const AMAX_FLOOR = 2 ** -64;

/**
 * FP8 with per-tensor (current) scaling, docs/references.md#number-formats: s = max / amax, quantise x·s, dequantise
 * ÷ s, with amax = max |x| floored at AMAX_FLOOR. A tensor holding an Infinity or a NaN comes out
 * all NaN (its scale would be meaningless; training has diverged by then). Returns float32 values.
 */
export function quantizeScaled(x: tf.Tensor, format: 'e4m3' | 'e5m2' = 'e4m3'): tf.Tensor {
  return tf.tidy(() => {
    const f = FORMATS[format];
    const a = tf.abs(x);
    // The scale is read back as a number: wasm and cpu kernels run synchronously, so this costs
    // microseconds, and it saves the scalar-tensor ops. tf.max propagates NaN on both backends.
    const amax = tf.max(a).dataSync()[0]!;
    if (!Number.isFinite(amax)) return tf.fill(x.shape, NaN);
    // As float32 computes it: the float64 quotient of two float32 values, rounded once, is the
    // correctly rounded float32 quotient.
    const s = Math.fround(f.maxFinite / Math.max(amax, AMAX_FLOOR));
    // |x|·s ≤ max·(1 + 2⁻²³), which rounds to max: no saturation step is needed. s < 2⁸⁰, so a
    // nonzero result needs |x| > 2⁻¹⁷/2⁸⁰: one factor in signOf reaches ±1.
    return tf.div(tf.mul(roundMagnitude(tf.mul(a, s), f), signOf(x, false)), s);
  });
}

/** OCP Microscaling v1.0: 32 elements share one scale. */
const MX_BLOCK = 32;
/** E2M1's largest exponent (6 = 1.5·2²): the scale puts the block's amax at exponent 2. */
const E2M1_MAX_EXPONENT = 2;
/** E8M0 scales cover 2⁻¹²⁷ … 2¹²⁷. */
const E8M0_MIN_EXPONENT = -127;
const E8M0_MAX_EXPONENT = 127;

/**
 * floor(log2(v)) for v > 0, exactly: the log estimate can be off by one next to a power of two,
 * so it is corrected against 2^e (tf.pow(2, integer) is exact on wasm and cpu, checked in the tests).
 * v = 0 gives −Infinity.
 */
export function floorLog2(v: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const e0 = tf.floor(tf.mul(tf.log(v), Math.LOG2E));
    const p = tf.pow(2, e0);
    const up = tf.cast(tf.greaterEqual(v, tf.mul(p, 2)), 'float32');
    const down = tf.cast(tf.less(v, p), 'float32');
    return tf.sub(tf.add(e0, up), down);
  });
}

/**
 * MXFP4 (OCP Microscaling v1.0, docs/references.md#number-formats): along `axis`, blocks of 32 consecutive values
 * (the last block of an axis whose length is not a multiple of 32 is shorter, as zero padding
 * would make it) share the scale X = 2^(floor(log2 amax) − 2), clamped to E8M0's range; each
 * element is v/X rounded to E2M1 and clamped to ±6, and the result is that times X. A block with a
 * non-finite element becomes all NaN (its E8M0 scale would be NaN). An all-zero block stays zero.
 * Use the reduction axis of the matmul the tensor feeds (a [fan_in, fan_out] kernel: axis 0).
 */
export function quantizeMxfp4(x: tf.Tensor, axis: number): tf.Tensor {
  const ax = axis < 0 ? axis + x.rank : axis;
  if (!(ax >= 0 && ax < x.rank)) throw new Error(`quantizeMxfp4: axis ${axis} is out of range for shape [${x.shape}]`);
  return tf.tidy(() => {
    const n = x.shape[ax]!;
    const blocks = Math.ceil(n / MX_BLOCK);
    const pad = blocks * MX_BLOCK - n;
    const padded =
      pad === 0 ? x : tf.pad(x, x.shape.map((_, i): [number, number] => (i === ax ? [0, pad] : [0, 0])));
    // [...before, blocks, 32, ...after]: a block is a run along `axis`, no transpose needed.
    const blocked = tf.reshape(padded, [...x.shape.slice(0, ax), blocks, MX_BLOCK, ...x.shape.slice(ax + 1)]);
    const amax = tf.max(tf.abs(blocked), ax + 1, true);
    const exponent = tf.maximum(tf.minimum(tf.sub(floorLog2(amax), E2M1_MAX_EXPONENT), E8M0_MAX_EXPONENT), E8M0_MIN_EXPONENT);
    // Σ v·0 over the block is NaN exactly when the block holds an Inf or a NaN (a sum propagates
    // NaN on every backend); added to the scale it makes the whole block NaN.
    const scale = tf.add(tf.pow(2, exponent), tf.sum(tf.mul(blocked, 0), ax + 1, true));
    const q = tf.mul(roundToFormat(tf.div(blocked, scale), 'e2m1'), scale);
    const unblocked = tf.reshape(q, padded.shape);
    return pad === 0 ? unblocked : tf.slice(unblocked, x.shape.map(() => 0), x.shape);
  });
}
