/**
 * Fixtures the conformance checks share (conformance_checks.ts): seeded variables of the three
 * kinds of parameter the sandbox trains, seeded gradients, one step under given names, and the
 * comparisons a check's verdict needs.
 */
import { tf } from '../tf.js';
import type { createOptimizer } from '../optimizers/index.js';
import { Rng } from '../data/rng.js';

type Optimizer = ReturnType<typeof createOptimizer>;

interface Param {
  readonly key: string;
  readonly shape: number[];
}

/** A Dense kernel, an expert bank (rank 3) and a bias: the three kinds of parameter the sandbox trains. */
export const PARAMS: readonly Param[] = [
  { key: 'kernel', shape: [4, 6] },
  { key: 'bank', shape: [2, 3, 5] },
  { key: 'bias', shape: [5] },
];

let counter = 0;
/** tfjs variable names are global to the engine: each fixture gets its own prefix. */
export const prefix = (label: string): string => `conformance${++counter}_${label}_`;

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

interface Vars {
  readonly names: string[];
  readonly vars: tf.Variable[];
}

export function makeVars(label: string, seed: number): Vars {
  const p = prefix(label);
  const rng = new Rng(seed);
  const names = PARAMS.map((q) => `${p}${q.key}`);
  const vars = PARAMS.map((q, i) => tf.tidy(() => tf.variable(tf.tensor(rng.normals(size(q.shape), 0.5), q.shape), true, names[i])));
  return { names, vars };
}

/** Seeded gradients per step, as plain arrays, so two runs can get exactly the same ones. */
export function gradientData(seed: number, steps: number): Float32Array[][] {
  const rng = new Rng(seed);
  return Array.from({ length: steps }, () => PARAMS.map((q) => rng.normals(size(q.shape))));
}

/** Apply one step's gradients under `v`'s names, in the given parameter order. */
export function step(opt: Optimizer, v: Vars, grads: readonly Float32Array[], order: readonly number[] = [0, 1, 2]): void {
  const list = order.map((i) => ({ name: v.names[i]!, tensor: tf.tensor(grads[i]!, PARAMS[i]!.shape) }));
  try {
    opt.applyGradients(list);
  } finally {
    tf.dispose(list.map((g) => g.tensor));
  }
}

export const values = (v: Vars): Float32Array[] => v.vars.map((x) => x.dataSync() as Float32Array);

export function maxDiff(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let m = 0;
  a.forEach((x, i) => {
    const y = b[i]!;
    for (let j = 0; j < x.length; j++) {
      const d = Math.abs(x[j]! - y[j]!);
      // NaN on one side only is a difference; NaN on both is not.
      if (Number.isNaN(d)) m = Number.isNaN(x[j]!) && Number.isNaN(y[j]!) ? m : Infinity;
      else m = Math.max(m, d);
    }
  });
  return m;
}

export const fmt = (x: number): string => (x === 0 ? '0' : x.toExponential(1));

/** Run `body` with `resources` disposed afterwards, whatever happens. */
export async function using<T>(resources: { dispose(): void }[], body: () => Promise<T> | T): Promise<T> {
  try {
    return await body();
  } finally {
    for (const r of resources) r.dispose();
  }
}

export const disposeVars = (v: Vars) => ({ dispose: () => tf.dispose(v.vars) });

export function jsonEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/** The first top-level key whose JSON differs, for a failure message. */
export function firstDifference(a: Record<string, unknown>, b: Record<string, unknown>): string {
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (!jsonEqual(a[k], b[k])) return `"${k}": ${JSON.stringify(a[k])} became ${JSON.stringify(b[k])}`;
  }
  return 'no difference found';
}
