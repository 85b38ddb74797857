/**
 * Dataset types and batching helpers. Pure TypeScript, no tfjs: everything is a flat typed array, so
 * a dataset is cheap to copy into (or share with) worker processes and to hand to any backend.
 */
import type { Rng } from './rng.js';

export type TaskKind = 'classification' | 'regression';

export interface Split {
  /** Row-major [n, inputDim]. */
  readonly x: Float32Array;
  /** Row-major [n, outputDim]; one-hot rows for classification. */
  readonly y: Float32Array;
  readonly n: number;
  /** Optional per-example cluster id (mixture-of-regimes), for analysis only. */
  readonly groups?: Int32Array;
}

/** Default input and output widths of the synthetic tasks (teacher–student, mixture of regimes). */
export const SYNTHETIC_INPUT_DIM = 16;
export const SYNTHETIC_OUTPUT_DIM = 4;

export interface Dataset {
  readonly name: string;
  readonly kind: TaskKind;
  readonly inputDim: number;
  readonly outputDim: number;
  readonly train: Split;
  readonly test: Split;
}

// ---------------------------------------------------------------------------------------------
// Argument checks shared by the generators. Messages name the function, the parameter and the value.

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined || v === null) return String(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Throws unless `value` is an integer ≥ `min` (default 1). Returns the value. */
export function checkInt(fn: string, name: string, value: unknown, min = 1): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    const what = min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : `an integer ≥ ${min}`;
    throw new RangeError(`${fn}: ${name} must be ${what}, got ${show(value)}`);
  }
  return value;
}

/** Throws unless `value` is a finite number in the given range. Returns the value. */
export function checkNumber(
  fn: string,
  name: string,
  value: unknown,
  range: { min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean } = {},
): number {
  const { min, max, minExclusive = false, maxExclusive = false } = range;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (min === undefined || (minExclusive ? value > min : value >= min)) &&
    (max === undefined || (maxExclusive ? value < max : value <= max));
  if (!ok) {
    const lo = min === undefined ? '(-∞' : `${minExclusive ? '(' : '['}${min}`;
    const hi = max === undefined ? '∞)' : `${max}${maxExclusive ? ')' : ']'}`;
    throw new RangeError(`${fn}: ${name} must be a finite number in ${lo}, ${hi}, got ${show(value)}`);
  }
  return value as number;
}

/** Throws unless `value` is an integer (any sign): the run seed. */
export function checkSeed(fn: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new RangeError(`${fn}: seed must be an integer, got ${show(value)}`);
  }
  return value;
}

/** Throws if `opts` is not an object or has a key outside `allowed` (catches typos such as `nTrian`). */
export function checkKeys(fn: string, opts: unknown, allowed: readonly string[]): void {
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) {
    throw new TypeError(`${fn}: options must be an object, got ${show(opts)}`);
  }
  for (const k of Object.keys(opts)) {
    if (!allowed.includes(k)) {
      throw new RangeError(`${fn}: unknown option ${show(k)} (accepted: ${allowed.join(', ')})`);
    }
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * Endless epochs of shuffled example indices. Each call returns the next batch (a fresh Int32Array of
 * length `batchSize`); each epoch is a fresh permutation of 0..n-1 drawn from `rng`, and the last
 * partial batch of an epoch is dropped (so with n divisible by batchSize every index appears exactly
 * once per epoch). Pass a forked generator (e.g. `new Rng(seed).fork('batches')`): this consumes it.
 */
export function batchIndices(n: number, batchSize: number, rng: Rng): () => Int32Array {
  checkInt('batchIndices', 'n', n);
  checkInt('batchIndices', 'batchSize', batchSize);
  if (batchSize > n) {
    throw new RangeError(`batchIndices: batchSize must be ≤ n = ${n} (the last partial batch is dropped), got ${batchSize}`);
  }
  let perm = rng.permutation(n);
  let pos = 0;
  return () => {
    if (pos + batchSize > n) {
      perm = rng.permutation(n);
      pos = 0;
    }
    const batch = perm.slice(pos, pos + batchSize);
    pos += batchSize;
    return batch;
  };
}

/**
 * Copies rows `idx` of the row-major matrix `src` (row length `width`) into `out` (allocated if not
 * given; must then have length idx.length·width) and returns it.
 */
export function gatherRows(src: Float32Array, width: number, idx: Int32Array, out?: Float32Array): Float32Array {
  checkInt('gatherRows', 'width', width);
  if (src.length % width !== 0) {
    throw new RangeError(`gatherRows: src.length (${src.length}) is not a multiple of width (${width})`);
  }
  const rows = src.length / width;
  const need = idx.length * width;
  if (out === undefined) out = new Float32Array(need);
  else if (out.length !== need) {
    throw new RangeError(`gatherRows: out.length must be idx.length·width = ${need}, got ${out.length}`);
  }
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i]!;
    if (!(r >= 0 && r < rows)) throw new RangeError(`gatherRows: idx[${i}] = ${r} is out of range 0..${rows - 1}`);
    const s = r * width;
    const d = i * width;
    for (let j = 0; j < width; j++) out[d + j] = src[s + j]!;
  }
  return out;
}

/** Class index of each row of `split.y` (argmax of the one-hot rows; first maximum on ties). */
export function labels(split: Split, outputDim: number): Int32Array {
  checkInt('labels', 'outputDim', outputDim);
  const { y, n } = split;
  if (y.length !== n * outputDim) {
    throw new RangeError(`labels: y.length (${y.length}) must equal n·outputDim = ${n}·${outputDim}`);
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * outputDim;
    let best = 0;
    let bestV = y[o]!;
    for (let j = 1; j < outputDim; j++) {
      const v = y[o + j]!;
      if (v > bestV) {
        bestV = v;
        best = j;
      }
    }
    out[i] = best;
  }
  return out;
}
