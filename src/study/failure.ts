/**
 * The study's **failed** endpoint, fair to bounded updates: Muon's orthogonalised
 * step has a bounded size, so its training loss rarely crosses the divergence threshold (4× the
 * first loss) even when training has failed — in the first full study Muon's MNIST runs at 8× never
 * "diverged" yet ended at eval loss 4.55, worse than at initialisation (2.30). A run has failed when
 *
 *   - it diverged, or
 *   - its final eval loss ≥ its eval loss at initialisation, or
 *   - its final eval loss ≥ k × the task's best tuned loss (k = FAILURE_LOSS_FACTOR unless the
 *     study sets `failureLossFactor`), or
 *   - (when the study sets `failureProgressShare` = f, as v3 does) it lost at least the share f of
 *     the progress the tuned runs made: final eval loss ≥ best tuned + f × (its initial − best tuned).
 *
 * Why the last rule: a language model can fail without diverging. Attention-logit growth and
 * attention-entropy collapse (docs/references.md#transformer-instabilities) stall or degrade the
 * loss while it stays finite, often near the unigram level — far below the loss at initialisation
 * (ln V ≈ 4.4 nats for the Brown characters) and far below k × the tuned loss (k = 5 puts the
 * threshold above the initial loss for an LM tuned near 2 nats), so neither rule above catches it.
 * Relative to the task's own progress the rule is scale-free: with f = ½ an LM tuned to 2.0 from
 * 4.4 fails at ≥ 3.2 nats (a model that has lost its context and kept little more than character
 * frequencies); MNIST (2.3 → 0.15) fails at ≥ 1.2, already above k × best = 0.75, so the rule
 * changes nothing where the k rule works. Attention entropy itself is not logged per run, so the
 * rule reads its effect on the eval loss rather than the entropy.
 *
 * Also here: the multipliers where an optimizer first fails, at which the arms run.
 */
import type { RunSummary } from '../train/run.js';

/**
 * k = 5. The rule must not call a run "failed" merely because its optimizer is worse than the
 * other at this scale: in the sandbox's main job AdamW's MoE eval loss was 3.1× Muon's (0.325 vs
 * 0.105) with both training normally, so k must clear ~3 with room for a constant-LR stress run
 * ending above the cosine-decayed tuning loss. It must still catch a run that broke and plateaued
 * below its initial loss: Muon's MNIST runs at 4× ended at eval loss 2.0 (init 2.3) against a best
 * tuned ≈ 0.15, i.e. 13×. 5 sits between the two.
 */
export const FAILURE_LOSS_FACTOR = 5;

export interface FailureContext {
  /** The task's best tuned loss: the lowest, over optimizers, median final eval loss at its tuned LR. */
  readonly bestTunedLoss: number;
  readonly lossFactor: number;
  /** f of the "lost progress" rule (absent: the rule is off, as in studies before v3). */
  readonly progressShare?: number;
}

export type FailureReason = 'diverged' | 'no eval' | 'worse than init' | 'k× best tuned' | 'lost progress';

/**
 * Why a run failed, or null if it did not. The loss at initialisation is the run's own eval loss
 * before its first update (`initialEvalLoss`); summaries written before that was recorded fall back
 * to the first minibatch's training loss, an estimate of the same quantity.
 */
export function failureReason(s: RunSummary, ctx: FailureContext): FailureReason | null {
  if (s.diverged) return 'diverged';
  const final = s.evalLoss;
  if (final === null || !Number.isFinite(final)) return 'no eval';
  const init = initialLossOf(s);
  if (init !== null && final >= init) return 'worse than init';
  if (Number.isFinite(ctx.bestTunedLoss) && final >= ctx.lossFactor * ctx.bestTunedLoss) return 'k× best tuned';
  const f = ctx.progressShare;
  if (f !== undefined && init !== null && Number.isFinite(ctx.bestTunedLoss) && init > ctx.bestTunedLoss) {
    if (final >= ctx.bestTunedLoss + f * (init - ctx.bestTunedLoss)) return 'lost progress';
  }
  return null;
}

export const isFailed = (s: RunSummary, ctx: FailureContext): boolean => failureReason(s, ctx) !== null;

/** The loss at initialisation: the eval loss before the first update, else the first training loss. */
export function initialLossOf(s: RunSummary): number | null {
  if (typeof s.initialEvalLoss === 'number' && Number.isFinite(s.initialEvalLoss)) return s.initialEvalLoss;
  return s.initialLoss !== null && Number.isFinite(s.initialLoss) ? s.initialLoss : null;
}

/**
 * The smallest multiplier at which at least half of an optimizer's stress runs failed ("first
 * fails": the median run failed), or null if none.
 */
export function firstFailure(byMultiplier: ReadonlyMap<number, readonly RunSummary[]>, ctx: FailureContext): number | null {
  for (const m of [...byMultiplier.keys()].sort((a, b) => a - b)) {
    const runs = byMultiplier.get(m)!;
    if (runs.length > 0 && 2 * runs.filter((r) => isFailed(r, ctx)).length >= runs.length) return m;
  }
  return null;
}

/**
 * The multipliers the arms run at: where the baseline first fails and where the treatment first
 * fails (one value if they agree); if neither fails anywhere, the largest multiplier tested, the
 * most stressful setting there is.
 */
export function armMultipliers(firstFailures: readonly (number | null)[], multipliers: readonly number[]): number[] {
  const found = [...new Set(firstFailures.filter((m): m is number => m !== null))].sort((a, b) => a - b);
  return found.length > 0 ? found : [Math.max(...multipliers)];
}

/**
 * The stress ladder's stopping rule, for one task: walk its rungs (1, 2, 4, …) in order; the first
 * rung with an unfinished run (`undefined`) is the one to run next; after each finished rung, stop
 * (null) once every optimizer has failed in at least half its runs at some rung so far — the same
 * "first fails" as firstFailure — or when the rungs run out (the cap: an optimizer that never
 * failed is then a finding, not a gap). Both optimizers climb together until both have failed, so
 * the first rung where either fails, and every rung up to where the other fails, has both.
 */
export function ladderNext(
  rungs: readonly number[],
  labels: readonly string[],
  runsAt: (label: string, multiplier: number) => readonly (RunSummary | undefined)[],
  ctx: FailureContext,
): number | null {
  const failed = new Set<string>();
  for (const m of rungs) {
    const byLabel = labels.map((l) => runsAt(l, m));
    if (byLabel.some((runs) => runs.some((s) => s === undefined))) return m;
    labels.forEach((label, i) => {
      const runs = byLabel[i] as readonly RunSummary[];
      if (runs.length > 0 && 2 * runs.filter((r) => isFailed(r, ctx)).length >= runs.length) failed.add(label);
    });
    if (labels.every((l) => failed.has(l))) return null;
  }
  return null;
}
