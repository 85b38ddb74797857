/**
 * Choosing a tuned learning rate from grid runs — the one rule the stability study and
 * `npm run tune` share (docs/references.md#fair-comparison):
 *
 * - a run's score is its final eval loss, or its initial loss when it diverged or has no finite
 *   eval; an LR's score is the median over seeds;
 * - an LR whose own tuning runs diverged in any seed is not eligible: the best-scoring eligible
 *   LR is the tuned LR. A median can hide one blow-up in five seeds, and the stress test and the
 *   experiments then run at that LR for longer (the full study's Muon MoE LR diverged every time);
 * - ties go to the smaller LR; if every LR diverged somewhere, the LRs with the fewest diverged
 *   runs are the candidates, and the choice says so.
 */
import type { ExperimentSpec, RunConfig } from '../train/config.js';
import { expandRuns } from '../train/config.js';
import type { RunSummary } from '../train/run.js';

/** The eligibility rule in words, printed beside every tuned LR (study report, tune output, records). */
export const ELIGIBILITY_RULE =
  'the tuned LR is the grid LR with the best median final eval loss over seeds (a diverged run counts as its initial loss) among the LRs whose tuning runs diverged in no seed; ties go to the smaller LR';

export interface TuningRun {
  readonly lr: number;
  readonly summary: RunSummary;
}

export interface GridScore {
  readonly lr: number;
  /** Median over seeds of tuningLoss; may be +∞. */
  readonly score: number;
  readonly n: number;
  /** Runs at this LR that diverged. */
  readonly diverged: number;
  /** No run at this LR diverged. */
  readonly eligible: boolean;
}

export interface TunedChoice {
  /** The tuned LR: best score among eligible LRs. */
  readonly tuned: { readonly lr: number; readonly score: number };
  /** The best score over the whole grid, eligible or not (equal to `tuned` when that LR is eligible). */
  readonly best: { readonly lr: number; readonly score: number };
  /** Every grid LR, in increasing LR order. */
  readonly grid: readonly GridScore[];
  /** True when no LR was free of divergence and the choice fell back to the fewest diverged runs. */
  readonly noEligibleLr: boolean;
}

/**
 * A tuning run's score: its final eval loss, or its initial loss if it diverged or has no eval
 * (docs/references.md#fair-comparison); +∞ when even the initial loss is missing (NaN at step 1, stored as null).
 */
export function tuningLoss(summary: RunSummary): number {
  const initial = summary.initialLoss !== null && Number.isFinite(summary.initialLoss) ? summary.initialLoss : Infinity;
  return summary.diverged || summary.evalLoss === null || !Number.isFinite(summary.evalLoss) ? initial : summary.evalLoss;
}

/** Median score per grid LR, in increasing LR order. stats.median rejects +∞; these may hold it. */
export function tuningScores(runs: readonly TuningRun[]): GridScore[] {
  const byLr = new Map<number, TuningRun[]>();
  for (const r of runs) byLr.set(r.lr, [...(byLr.get(r.lr) ?? []), r]);
  return [...byLr.keys()]
    .sort((a, b) => a - b)
    .map((lr) => {
      const mine = byLr.get(lr)!;
      const xs = mine.map((r) => tuningLoss(r.summary)).sort((a, b) => a - b);
      const mid = xs.length >> 1;
      const diverged = mine.filter((r) => r.summary.diverged).length;
      return { lr, score: xs.length % 2 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2, n: xs.length, diverged, eligible: diverged === 0 };
    });
}

/** Lowest score; ties to the smaller LR (the rows come in increasing LR order). */
function lowest(rows: readonly GridScore[]): GridScore | undefined {
  let best: GridScore | undefined;
  for (const r of rows) if (!best || r.score < best.score) best = r;
  return best;
}

/** The best-scoring LR and the tuned (eligible) LR, by ELIGIBILITY_RULE. */
export function chooseTunedLr(runs: readonly TuningRun[]): TunedChoice {
  const grid = tuningScores(runs);
  const best = lowest(grid);
  if (!best) throw new Error('tunedLr: no tuning results');
  const eligible = grid.filter((g) => g.eligible);
  const fewest = Math.min(...grid.map((g) => g.diverged));
  const tuned = lowest(eligible.length > 0 ? eligible : grid.filter((g) => g.diverged === fewest))!;
  return {
    tuned: { lr: tuned.lr, score: tuned.score },
    best: { lr: best.lr, score: best.score },
    grid,
    noEligibleLr: eligible.length === 0,
  };
}

/** The tuned LR by ELIGIBILITY_RULE. */
export function tunedLr(runs: readonly TuningRun[]): { lr: number; score: number } {
  return chooseTunedLr(runs).tuned;
}

/** Base learning rate of an optimizer label in an experiment (the value lrScale multiplies). */
export function baseLr(spec: ExperimentSpec, label: string): number {
  const setup = spec.optimizers[label];
  if (!setup) throw new Error(`experiment "${spec.name}" has no optimizer "${label}"`);
  const lr = setup.options?.['learningRate'];
  if (typeof lr !== 'number') {
    throw new Error(`experiment "${spec.name}": optimizer "${label}" must set options.learningRate for the study to scale it`);
  }
  return lr;
}

export interface GridRun {
  readonly lr: number;
  readonly seed: number;
  readonly config: RunConfig;
}

/**
 * The grid runs of one optimizer label: every LR × seed over `steps` with the spec's own schedule,
 * evaluated once at the end. lrScale = lr / the label's base LR, so every parameter group of the
 * optimizer (Muon's internal AdamW too) moves with the main LR, keeping the spec's ratios.
 */
export function gridRuns(spec: ExperimentSpec, label: string, grid: readonly number[], seeds: readonly number[], steps: number): GridRun[] {
  const base = expandRuns({ ...spec, evalEvery: steps }, { optimizers: [label], seeds, steps });
  const out: GridRun[] = [];
  for (const lr of grid) {
    for (const run of base) {
      const config = { ...run, optimizer: { ...run.optimizer, lrSource: `tuning grid point ${lr}` }, lrScale: lr / baseLr(spec, label) };
      out.push({ lr, seed: run.seed, config });
    }
  }
  return out;
}
