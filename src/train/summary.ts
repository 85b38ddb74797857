/** What summary.json holds: the record of one finished run, written last (src/train/run.ts). */
import type { SpikeCount } from './spikes.js';

export interface RunSummary {
  readonly experiment: string;
  /** The optimizer's label in the experiment (chart series name). */
  readonly optimizer: string;
  /** Registry name of the optimizer class. */
  readonly optimizerName: string;
  readonly seed: number;
  readonly lrScale: number;
  /** Simulated precision: a preset name (fp32, bf16, fp8, fp4) or w-<weights>_a-<activations>; absent in summaries from before it existed. */
  readonly precision?: string;
  /** Steps completed. */
  readonly steps: number;
  readonly plannedSteps: number;
  /** Mean training loss over the last 10 steps (the last loss if diverged). */
  readonly finalLoss: number | null;
  readonly minLoss: number | null;
  readonly initialLoss: number | null;
  /** Eval loss before the first update; absent in summaries written before it was recorded. */
  readonly initialEvalLoss?: number | null;
  readonly evalLoss: number | null;
  readonly evalAcc?: number | null;
  /** Text runs: final eval loss in bits per character. */
  readonly evalBpc?: number | null;
  /** Runs with QK-clip: heads rescaled over the run (a head at one step counts once). */
  readonly headClips?: number;
  /** Spike events per detector name. */
  readonly spikes: Record<string, number>;
  readonly spikeDetails: Record<string, SpikeCount>;
  readonly diverged: boolean;
  readonly divergedAtStep: number | null;
  /** True when the run was stopped (e.g. Ctrl-C) before its planned steps. */
  readonly interrupted: boolean;
  readonly wallSeconds: number;
  readonly backend: string;
  readonly configHash: string;
}
