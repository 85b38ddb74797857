/**
 * Curve figures from loaded runs, shared by study figures and plain run folders: which per-step
 * metrics get a figure, their axis titles (with units), and the rows of each panel.
 */
import type { ExperimentSpec } from '../train/config.js';
import type { StepRecord } from '../train/loop.js';
import type { CurveField } from '../study/digest.js';
import { count } from '../text/plural.js';
import type { CurvePanel, CurveSeries } from './specs.js';
import { band, divergenceEvents, field, spikeEvents, traceOf, type Trace } from './traces.js';

/** One run as the figures need it: its trace of any per-step metric, by field name. */
export interface RunData {
  readonly seed: number;
  readonly diverged: boolean;
  readonly trace: (field: string) => Trace;
}

/** A run folder's data, traced from its per-step records. */
export const recordsRunData = (seed: number, records: readonly StepRecord[], diverged: boolean): RunData => ({
  seed,
  diverged,
  trace: (name) => traceOf(seed, records, field(name), diverged),
});

/** Regression tasks are trained on mean squared error; the others (MNIST, language) on cross-entropy, in nats. */
const MSE_DATA = new Set(['regimes', 'teacher']);

export function lossUnit(spec: Pick<ExperimentSpec, 'data'> | undefined): string {
  return spec && MSE_DATA.has(spec.data.kind) ? 'MSE' : 'nats';
}

/** A per-step metric that gets its own figure when the runs record it. */
export interface MetricFigure {
  /** StepRecord field; one a study run's digest keeps a curve of (study/digest.ts), so the study figures can draw it. */
  readonly field: CurveField;
  /** File-name part. */
  readonly slug: string;
  readonly name: string;
  readonly yTitle: string;
  readonly logY: boolean;
  /** What the reader should look for; goes into the caption. */
  readonly why: string;
}

/** MoE load balance and, for language-model runs (docs/references.md#loss-spikes's attention-logit growth), attention statistics. */
export const EXTRA_METRICS: readonly MetricFigure[] = [
  {
    field: 'maxVio',
    slug: 'maxvio',
    name: 'MoE load imbalance (MaxVio)',
    yTitle: 'MaxVio (excess, × mean load)',
    logY: false,
    why: 'MaxVio = (max expert load − mean load) / mean load per step; 0 is perfect balance.',
  },
  {
    field: 'routerMaxLogit',
    slug: 'router-logit',
    name: 'router max |logit|',
    yTitle: 'router max |logit|',
    logY: false,
    why: 'Steady growth of the largest router logit precedes routing collapse.',
  },
  {
    field: 'maxAttnLogit',
    slug: 'attn-logit',
    name: 'max attention logit',
    yTitle: 'max attention logit',
    logY: false,
    why: 'Attention-logit growth is the instability QK-clip targets in Muon-trained LMs.',
  },
  {
    field: 'minAttnEntropy',
    slug: 'attn-entropy',
    name: 'min attention entropy',
    yTitle: 'min attention entropy (nats)',
    logY: false,
    why: 'Entropy collapse of an attention head (near 0 nats) accompanies logit growth.',
  },
];

export function metricsPresent(runs: readonly RunData[]): MetricFigure[] {
  return EXTRA_METRICS.filter((m) => runs.some((r) => r.trace(m.field).values.length > 0));
}

/** One series (an optimizer's runs) of one metric: band over seeds, spike and divergence markers. */
export function curveSeries(label: string, runs: readonly RunData[], fieldName: string, opts: { spikes: boolean; maxPoints?: number }): CurveSeries {
  const traces = runs.map((r) => r.trace(fieldName));
  return {
    label,
    band: band(traces, opts.maxPoints ?? 200),
    spikes: opts.spikes ? spikeEvents(traces) : [],
    diverged: divergenceEvents(traces),
  };
}

/** Panels of one metric: panel title → series label → runs. */
export function curvePanels(
  groups: readonly { title: string; series: readonly { label: string; runs: readonly RunData[] }[] }[],
  fieldName: string,
  opts: { spikes: boolean },
): CurvePanel[] {
  return groups.map((g) => ({ title: g.title, series: g.series.filter((s) => s.runs.length > 0).map((s) => curveSeries(s.label, s.runs, fieldName, opts)) }));
}

/** "3 seeds" or "2–3 seeds" over the given series. */
export function seedsPhrase(counts: readonly number[]): string {
  const lo = Math.min(...counts);
  const hi = Math.max(...counts);
  if (!Number.isFinite(lo)) return 'no runs';
  return lo === hi ? count(hi, 'seed') : `${lo}–${hi} seeds`;
}
