/**
 * Known perturbations injected into a run at chosen steps, so the spike detectors can be checked
 * against spikes whose steps are known (detector calibration, src/study/calibration.ts):
 *   - `lr`: that one step runs at `factor`× the scheduled LR (the next step's loss shows it);
 *   - `batch`: that step's targets are permuted across the batch (for text, across every position
 *     of every window), so the model is trained on wrong labels for one step; its loss shows it at
 *     once. The permutation is drawn from the run's seed and the step, never from the batch
 *     generator, so every other step sees the same data as without the injection.
 * A config without `inject` runs exactly as before, and its hash is unchanged (config.ts adds the
 * field only when present).
 */
import { tf } from '../tf.js';
import { Rng } from '../data/rng.js';

export type Injection =
  | { readonly step: number; readonly kind: 'lr'; readonly factor: number }
  | { readonly step: number; readonly kind: 'batch' };

export type InjectionKind = Injection['kind'];

/** What is wrong with a list of injections for a run of `steps` steps, or undefined. */
export function injectionProblem(list: readonly Injection[], steps: number): string | undefined {
  const seen = new Set<number>();
  for (const inj of list) {
    if (!Number.isSafeInteger(inj.step) || inj.step < 1 || inj.step > steps) return `injection step ${inj.step}: expected an integer in [1, ${steps}]`;
    if (seen.has(inj.step)) return `two injections at step ${inj.step}`;
    seen.add(inj.step);
    if (inj.kind === 'lr') {
      if (!(typeof inj.factor === 'number' && inj.factor > 0 && Number.isFinite(inj.factor))) return `lr injection at step ${inj.step}: factor ${inj.factor} must be a finite number > 0`;
    } else if (inj.kind !== 'batch') {
      return `injection at step ${(inj as { step: number }).step}: unknown kind ${JSON.stringify((inj as { kind: unknown }).kind)} (expected lr or batch)`;
    }
  }
  return undefined;
}

/** The injection at `step`, if any. */
export function injectionAt(list: readonly Injection[] | undefined, step: number): Injection | undefined {
  return list?.find((i) => i.step === step);
}

/** The LR multiplier an injection applies at its step (1 for none or a batch injection). */
export const lrInjectionFactor = (inj: Injection | undefined): number => (inj?.kind === 'lr' ? inj.factor : 1);

/**
 * The batch with its target rows permuted, seeded by (run seed, step). Takes ownership of `batch`
 * (its targets tensor is disposed and replaced).
 */
export function corruptTargets(batch: [tf.Tensor2D, tf.Tensor2D], seed: number, step: number): [tf.Tensor2D, tf.Tensor2D] {
  const [x, y] = batch;
  const perm = new Rng(seed).fork(`inject-batch@${step}`).permutation(y.shape[0]);
  const shuffled = tf.tidy(() => tf.gather(y, tf.tensor1d(perm, 'int32')));
  y.dispose();
  return [x, shuffled];
}
