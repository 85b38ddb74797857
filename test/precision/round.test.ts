/**
 * Bit-exactness of the tfjs rounding ops against the bit-level references, on wasm and on cpu in
 * the same process: edge cases (ties, subnormals, largest values, overflow, ±0, NaN, ±Infinity),
 * every power of two and its float32 neighbours, and ≥ 10⁵ random values per format.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { Rng } from '../../src/data/rng.js';
import {
  ELEMENT_FORMATS,
  FORMATS,
  floorLog2,
  quantizeMxfp4,
  quantizeScaled,
  roundToFormat,
  type ElementFormat,
} from '../../src/precision/round.js';
import { tf } from '../../src/tf.js';
import { bf16ByBits, bitsToFloat32, float32Bits, quantizeMxfp4Ref, quantizeScaledRef, roundRef } from './reference.js';

const BACKENDS = ['wasm', 'cpu'] as const;
const RANDOM_COUNT = 1 << 17; // 131072 ≥ 10⁵

let initial = '';
beforeAll(async () => {
  await initBackend();
  initial = tf.getBackend();
});
afterAll(async () => {
  await tf.setBackend(initial);
});

async function useBackend(name: string): Promise<void> {
  expect(await tf.setBackend(name)).toBe(true);
  await tf.ready();
}

/** Same bits, or both NaN (payloads carry no meaning here). */
function sameFloat32(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  return float32Bits(a) === float32Bits(b);
}

const show = (x: number) => (Object.is(x, -0) ? '-0' : String(x));

function mismatches(actual: Float32Array, expected: ArrayLike<number>, input: Float32Array): string[] {
  const bad: string[] = [];
  for (let i = 0; i < actual.length; i++) {
    if (!sameFloat32(actual[i]!, expected[i]!)) bad.push(`x=${show(input[i]!)} got ${show(actual[i]!)} want ${show(expected[i]!)}`);
  }
  return bad;
}

const nextUp = (x: number) => bitsToFloat32(float32Bits(x) + 1); // for x > 0
const nextDown = (x: number) => bitsToFloat32(float32Bits(x) - 1); // for x > 0

/** Edge cases for one format: specials, extremes, every power of two ±1 ulp, ties at every exponent. */
function edgeCases(format: ElementFormat, rng: Rng): Float32Array {
  const f = FORMATS[format];
  const m = f.mantissaBits;
  const v: number[] = [0, -0, NaN, Infinity, -Infinity, 3.4028234663852886e38, 2 ** -126, 2 ** -149, 1];
  v.push(f.maxFinite, nextUp(f.maxFinite), nextDown(f.maxFinite), 2 * f.maxFinite);
  // Halfway between max and the next value up the grid: rounds to max (even) or beyond.
  const topSpacing = 2 ** (Math.floor(Math.log2(f.maxFinite)) - m);
  v.push(f.maxFinite + topSpacing / 2, nextUp(f.maxFinite + topSpacing / 2), f.maxFinite + topSpacing);
  for (let e = -149; e <= 127; e++) {
    const p = 2 ** e;
    v.push(p, nextUp(p));
    if (e > -149) v.push(nextDown(p));
  }
  // Ties (k + ½)·spacing at every exponent the format has, subnormal grid included, with both
  // parities of k, and their float32 neighbours.
  const emax = Math.floor(Math.log2(f.maxFinite));
  for (let e = f.minNormalExponent - 1; e <= Math.min(emax + 1, 126); e++) {
    const spacing = 2 ** (Math.max(e, f.minNormalExponent) - m);
    const base = e < f.minNormalExponent ? 0 : 2 ** e;
    const count = 2 ** m;
    for (let t = 0; t < 6; t++) {
      const k = rng.int(count);
      const tie = base + (k + 0.5) * spacing;
      if (Math.fround(tie) !== tie) continue;
      v.push(tie, nextUp(tie), nextDown(tie));
    }
  }
  const out = new Float32Array(v.length * 2);
  v.forEach((x, i) => {
    out[2 * i] = x;
    out[2 * i + 1] = -x;
  });
  return out;
}

/** Half uniform float32 bit patterns (every exponent, NaNs included), half log-uniform over the format's range. */
function randomValues(format: ElementFormat, rng: Rng, n: number): Float32Array {
  const f = FORMATS[format];
  const out = new Float32Array(n);
  const lo = f.minNormalExponent - f.mantissaBits - 3;
  const hi = Math.log2(f.maxFinite) + 2;
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) out[i] = bitsToFloat32(rng.nextUint32());
    else out[i] = (rng.next() < 0.5 ? -1 : 1) * 2 ** (lo + (hi - lo) * rng.next());
  }
  return out;
}

function roundOn(input: Float32Array, format: ElementFormat): Float32Array {
  return tf.tidy(() => roundToFormat(tf.tensor1d(input), format).dataSync() as Float32Array);
}

describe('the bit-level reference', () => {
  it("agrees with docs/references.md#number-formats's bf16 bit rule on random bits and edge cases", () => {
    const rng = new Rng(1);
    const xs = [...edgeCases('bf16', rng), ...randomValues('bf16', rng, 20000)];
    for (const x of xs) expect(sameFloat32(roundRef(x, 'bf16'), bf16ByBits(x))).toBe(true);
  });

  it('knows the formats: E2M1 magnitudes, E4M3/E5M2 extremes and saturation', () => {
    const grid = [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 100].map((x) => roundRef(x, 'e2m1'));
    expect(grid).toEqual([0, 0, 0.5, 1, 1, 1, 1.5, 2, 2, 2, 3, 4, 4, 4, 6, 6, 6]);
    expect(roundRef(2 ** -9, 'e4m3')).toBe(2 ** -9);
    expect(roundRef(2 ** -10, 'e4m3')).toBe(0); // tie with 0 → even
    expect(roundRef(1.5 * 2 ** -10, 'e4m3')).toBe(2 ** -9);
    expect(roundRef(464, 'e4m3')).toBe(448); // tie between 448 and 480 → 448
    expect(roundRef(500, 'e4m3')).toBe(448);
    expect(roundRef(-Infinity, 'e4m3')).toBe(-448);
    expect(roundRef(2 ** -16, 'e5m2')).toBe(2 ** -16);
    expect(roundRef(1e6, 'e5m2')).toBe(57344);
    expect(roundRef(3.4028234663852886e38, 'bf16')).toBe(Infinity);
    expect(Object.is(roundRef(-1e-45, 'bf16'), -0)).toBe(true);
  });
});

describe('Veltkamp splitting rounds to nearest even (the proof by exhaustion the header relies on)', () => {
  it('matches the bit reference on every float32 in [1, 2) for 7, 3, 2 and 1 mantissa bits', () => {
    for (const format of ['bf16', 'e4m3', 'e5m2', 'e2m1'] as const) {
      const m = FORMATS[format].mantissaBits;
      const c = 2 ** (23 - m) + 1;
      let bad = 0;
      for (let u = 0x3f800000; u < 0x40000000; u++) {
        const x = bitsToFloat32(u);
        const gamma = Math.fround(c * x);
        const hi = Math.fround(gamma + Math.fround(x - gamma));
        // Unbounded-exponent rounding in [1, 2): the format's range does not matter here.
        const shift = 23 - m;
        const q = u >>> shift;
        const rest = u & ((1 << shift) - 1);
        const half = 1 << (shift - 1);
        const up = rest > half || (rest === half && (q & 1) === 1) ? 1 : 0;
        if (hi !== bitsToFloat32(((q + up) << shift) >>> 0)) bad++;
      }
      expect(bad, format).toBe(0);
    }
  });
});

describe.each(BACKENDS)('roundToFormat on %s', (backend) => {
  beforeAll(async () => useBackend(backend));

  it('computes floor(log2) exactly and 2^k exactly for every float32 power of two and its neighbours', () => {
    const v: number[] = [];
    for (let e = -149; e <= 127; e++) {
      v.push(2 ** e, nextUp(2 ** e));
      if (e > -149) v.push(nextDown(2 ** e));
    }
    // floor(log2 x) from the bits: the biased exponent, or for a subnormal its significand's top bit.
    const want = v.map((x) => {
      const u = float32Bits(x);
      const biased = u >>> 23;
      return biased === 0 ? 31 - Math.clz32(u) - 149 : biased - 127;
    });
    const got = tf.tidy(() => floorLog2(tf.tensor1d(v)).dataSync());
    expect(Array.from(got)).toEqual(want);
    const exps = Array.from({ length: 277 }, (_, i) => i - 149);
    const pows = tf.tidy(() => tf.pow(2, tf.tensor1d(exps)).dataSync());
    expect(Array.from(pows)).toEqual(exps.map((e) => 2 ** e));
  });

  for (const format of ELEMENT_FORMATS) {
    it(`${format}: edge cases and ${RANDOM_COUNT} random values, bit for bit`, () => {
      const rng = new Rng(7);
      const edges = edgeCases(format, rng);
      const random = randomValues(format, rng, RANDOM_COUNT);
      for (const input of [edges, random]) {
        const got = roundOn(input, format);
        const want = Array.from(input, (x) => roundRef(x, format));
        const bad = mismatches(got, want, input);
        expect(bad.slice(0, 5), `${bad.length} mismatches of ${input.length}`).toEqual([]);
      }
    });
  }

  it('keeps the sign of zero and NaN, and does not leak tensors', () => {
    const before = tf.memory().numTensors;
    for (const format of ELEMENT_FORMATS) {
      // A quarter of the format's smallest subnormal rounds to zero.
      const tiny = 2 ** (FORMATS[format].minNormalExponent - FORMATS[format].mantissaBits - 2);
      const got = roundOn(new Float32Array([-0, -tiny, 0, NaN]), format);
      expect(Object.is(got[0], -0), format).toBe(true);
      expect(Object.is(got[1], -0), format).toBe(true);
      expect(Object.is(got[2], 0), format).toBe(true);
      expect(Number.isNaN(got[3]), format).toBe(true);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  for (const format of ['e4m3', 'e5m2'] as const) {
    it(`quantizeScaled ${format}: per-tensor amax scaling matches the reference on ${RANDOM_COUNT} values and edge tensors`, () => {
      const rng = new Rng(11);
      const tensors: Float32Array[] = [];
      // Many small tensors at spread magnitudes (each its own amax), then edge tensors.
      for (let t = 0; t < 64; t++) {
        const scale = 2 ** (rng.next() * 60 - 30);
        tensors.push(Float32Array.from({ length: RANDOM_COUNT / 64 }, () => rng.normal() * scale));
      }
      tensors.push(
        new Float32Array([0, -0, 0]),
        new Float32Array([1e-45, -3e-45, 0]),
        // amax below the 2⁻⁶⁴ floor, with values that stay nonzero on the floored scale
        Float32Array.from({ length: 41 }, (_, k) => (k % 2 ? -1 : 1) * 2 ** -70 * 0.7 ** k),
        new Float32Array([1, -Infinity, NaN, 2, 3e38]),
        new Float32Array([1, NaN, 2]),
        new Float32Array([3e38, -3e38, 1e-40]),
      );
      let checked = 0;
      for (const input of tensors) {
        const got = tf.tidy(() => quantizeScaled(tf.tensor1d(input), format).dataSync() as Float32Array);
        const bad = mismatches(got, quantizeScaledRef(input, format), input);
        expect(bad.slice(0, 5), `${bad.length} mismatches`).toEqual([]);
        checked += input.length;
      }
      expect(checked).toBeGreaterThanOrEqual(1e5);
    });
  }

  it(`quantizeMxfp4: blocks of 32 along the chosen axis match the reference (${RANDOM_COUNT} values, edge blocks)`, () => {
    const rng = new Rng(13);
    // Rows of the reduction axis at block-varying magnitudes, including subnormal and huge blocks.
    const shape = [4096, 32];
    const big = new Float32Array(shape[0]! * shape[1]!);
    for (let i = 0; i < shape[0]!; i += 32) {
      const scale = 2 ** (rng.next() * 250 - 140);
      for (let j = i * 32; j < (i + 32) * 32; j++) big[j] = rng.normal() * scale;
    }
    const cases: { input: Float32Array; shape: number[]; axis: number }[] = [{ input: big, shape, axis: 0 }];
    // A partial last block (100 = 3·32 + 4), blocks along a middle axis and the last axis.
    cases.push({ input: Float32Array.from({ length: 700 }, () => rng.normal()), shape: [100, 7], axis: 0 });
    cases.push({ input: Float32Array.from({ length: 960 }, () => rng.normal() * 100), shape: [3, 64, 5], axis: 1 });
    cases.push({ input: Float32Array.from({ length: 6 * 40 }, () => rng.normal() / 1000), shape: [6, 40], axis: 1 });
    // Edge blocks: all zeros with −0, a NaN, an Infinity, the float32 maximum, subnormals only.
    const edge = new Float32Array(5 * 32).fill(0);
    edge[1] = -0;
    edge[32] = NaN;
    edge[33] = 1;
    edge[64] = -Infinity;
    edge[96] = 3.4028234663852886e38;
    edge[97] = -1e30;
    for (let j = 128; j < 160; j++) edge[j] = (j - 140) * 1e-45;
    cases.push({ input: edge, shape: [160], axis: 0 });
    for (const c of cases) {
      const got = tf.tidy(() => quantizeMxfp4(tf.tensor(c.input, c.shape), c.axis).dataSync() as Float32Array);
      const bad = mismatches(got, quantizeMxfp4Ref(c.input, c.shape, c.axis), c.input);
      expect(bad.slice(0, 5), `shape [${c.shape}] axis ${c.axis}: ${bad.length} mismatches`).toEqual([]);
    }
    expect(big.length).toBeGreaterThanOrEqual(1e5);
  });
});
