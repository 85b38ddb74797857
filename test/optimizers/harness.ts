/**
 * Drives a tfjs optimizer and a float64 reference with the same seeded gradients and reports the
 * per-step parameter differences.
 */
import { tf, type ComposedOptimizer } from '../../src/index.js';
import { Rng, sizeOf, type RefOptimizer } from './reference.js';

/**
 * What the tests need of any of our optimizers. `ComposedOptimizer<S>` for a specific option set
 * is not assignable to `ComposedOptimizer` (the plan's option type is contravariant), so the tests
 * use this structural view instead.
 */
export type AnyOptimizer = tf.Optimizer & Pick<ComposedOptimizer, 'options' | 'groupOf' | 'learningRate'>;

export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

export interface TrajectoryOptions {
  steps?: number;
  seed?: number;
  /** Gradient scale per step (1-based step), e.g. to make AMSGrad's running max matter. */
  gradScale?: (step: number) => number;
  initScale?: number;
}

export interface TrajectoryResult {
  /** Max |θ_tfjs − θ_ref| over all steps, per parameter. */
  maxError: Record<string, number>;
  /** Per-step max error over all parameters. */
  perStep: number[];
  /** Max |θ_final − θ_0| per parameter (in the reference), so a test can check that it moved. */
  moved: Record<string, number>;
}

let counter = 0;
/** Variable names are global in the tfjs engine: give each test its own prefix. */
export function uniquePrefix(label: string): string {
  counter += 1;
  return `${label}${counter}_`;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * `params` are created as tf.Variables named exactly `name` (callers use uniquePrefix) and
 * disposed at the end. Both sides see the same float32-rounded initial values and gradients.
 */
export function runTrajectory(
  optimizer: tf.Optimizer,
  reference: RefOptimizer,
  params: readonly ParamSpec[],
  options: TrajectoryOptions = {},
): TrajectoryResult {
  const steps = options.steps ?? 30;
  const rng = new Rng(options.seed ?? 12345);
  const initScale = options.initScale ?? 0.5;
  const theta = params.map((p) => rng.normals(sizeOf(p.shape), initScale));
  const initial = theta.map((t) => Float64Array.from(t));
  const vars = params.map((p, i) =>
    tf.tidy(() => tf.variable(tf.tensor(Float32Array.from(theta[i]!), p.shape as number[]), true, p.name)),
  );
  const maxError: Record<string, number> = Object.fromEntries(params.map((p) => [p.name, 0]));
  const perStep: number[] = [];
  try {
    for (let step = 1; step <= steps; step++) {
      const scale = options.gradScale?.(step) ?? 1;
      const grads = params.map((p) => rng.normals(sizeOf(p.shape), scale));
      const named: tf.NamedTensorMap = {};
      params.forEach((p, i) => (named[p.name] = tf.tensor(Float32Array.from(grads[i]!), p.shape as number[])));
      optimizer.applyGradients(named);
      tf.dispose(Object.values(named));
      params.forEach((p, i) => reference.step(p.name, p.shape, theta[i]!, grads[i]!));
      let stepMax = 0;
      params.forEach((p, i) => {
        const err = maxAbsDiff(vars[i]!.dataSync(), theta[i]!);
        maxError[p.name] = Math.max(maxError[p.name]!, err);
        stepMax = Math.max(stepMax, err);
      });
      perStep.push(stepMax);
    }
  } finally {
    tf.dispose(vars);
  }
  const moved = Object.fromEntries(params.map((p, i) => [p.name, maxAbsDiff(theta[i]!, initial[i]!)]));
  return { maxError, perStep, moved };
}

/** Errors observed per case, printed once per file so the report can quote them. */
export const observed: Record<string, number> = {};
export function record(label: string, value: number): void {
  observed[label] = value;
}
export function printObserved(file: string): void {
  const lines = Object.entries(observed).map(([k, v]) => `  ${k}: ${v.toExponential(2)}`);
  if (lines.length > 0 && process.env.OPT_TEST_VERBOSE) console.log(`${file} max errors:\n${lines.join('\n')}`);
}
