/**
 * Study analysis: from a study folder's files to numbers, in three steps.
 *
 *   1. `loadStudy` (collect.ts) reads study.json and the runs, the only I/O (or `loadBundle`,
 *      bundle.ts, the same data from a published bundle);
 *   2. `collectCells` (cells.ts) sorts them into tuning results and cells (task × multiplier × arm);
 *   3. `analyzeCells`, pure: per cell the medians and rates (endpoints.ts) and the raw per-run values
 *      of every endpoint; then the tests, Holm's correction and the intervals of the whole family at
 *      once (compare.ts); signals over time (signals.ts); the verdict; and study v3's exploratory
 *      phases (the *_section.ts modules). Each result is built complete, once (results.ts holds the shapes).
 *
 * A change to the statistics belongs in step 3: it sees every sample and nothing else.
 */
import { loadStudyOrBundle } from './bundle.js';
import { collectCells, type Cell, type StudyCells, type TaskCells } from './cells.js';
import { compareFamily, favours, verdictFrom } from './compare.js';
import { endpointSamples, labelCells, survivalSample, type EndpointSample, type SurvivalSample } from './endpoints.js';
import { controlResults } from './control_section.js';
import { mechanismResults } from './mechanism_section.js';
import { noiseResults } from './noise_section.js';
import { ladderResults } from './ladder_section.js';
import { longResults } from './long_section.js';
import { decidePrimary } from './primary.js';
import { fmt3 } from './protocol.js';
import type { BalanceTrace, Comparison, MedianCurve, StressCell, StudyResults } from './results.js';
import { growthOf, overTime, signalsIn } from './signals.js';
import { taskModel } from './study.js';
import { widthTrends } from './width_section.js';
import { unfinishedPhases } from './unfinished.js';

/** Everything computed for one cell before the family's tests: its numbers and its raw samples. */
interface CellWork {
  readonly cell: Cell;
  readonly task: TaskCells;
  readonly samples: readonly EndpointSample[];
  readonly survival: SurvivalSample | undefined;
}

/** The cell as the report reads it, with the comparisons of its endpoints and its log-rank test. */
function stressCell(w: CellWork, comparisons: ReadonlyMap<EndpointSample, Comparison>, logRankPHolm: number | undefined): StressCell {
  const of = (slot: EndpointSample['slot']) => w.samples.filter((s) => s.slot === slot).map((s) => [s, comparisons.get(s)!] as const);
  const single = (slot: EndpointSample['slot']) => of(slot)[0]?.[1];
  const byDetector = (slot: EndpointSample['slot']) => Object.fromEntries(of(slot).map(([s, c]) => [s.detector!, c]));
  const divergence = single('divergence');
  const failure = single('failure');
  const finalEval = single('finalEval');
  const stepsLost = single('stepsLost');
  return {
    task: w.cell.task,
    multiplier: w.cell.multiplier,
    arm: w.cell.arm,
    byLabel: labelCells(w.cell, w.task.failure, w.task.detectors),
    runs: w.cell.runsByLabel,
    ...(divergence ? { divergence } : {}),
    ...(failure ? { failure } : {}),
    ...(finalEval ? { finalEval } : {}),
    ...(stepsLost ? { stepsLost } : {}),
    spikes: byDetector('spikes'),
    lateSpikes: byDetector('lateSpikes'),
    ...(w.survival && logRankPHolm !== undefined ? { survival: { byLabel: w.survival.byLabel, logRank: { ...w.survival.logRank, pHolm: logRankPHolm } } } : {}),
  };
}

/** `outer → inner → key → value` from entries, keys in first-seen order. */
function nest<T>(entries: readonly (readonly [string, string, string, T])[]): Record<string, Record<string, Record<string, T>>> {
  const out: Record<string, Record<string, Record<string, T>>> = {};
  for (const [a, b, c, v] of entries) ((out[a] ??= {})[b] ??= {})[c] = v;
  return out;
}

/** The numbers of a study from its cells: pure, deterministic, every result complete when built. */
export function analyzeCells(cells: StudyCells): StudyResults {
  const { spec } = cells;
  const sides = { baseline: spec.baseline, treatment: spec.treatment };
  const work = (task: TaskCells, cell: Cell): CellWork => ({
    cell,
    task,
    samples: endpointSamples(cell, sides, task.failure, task.detectors),
    survival: survivalSample(cell, sides),
  });
  // Family order: task by task, its stress cells then its arm cells.
  const stressWork = cells.tasks.map((t) => t.stress.map((c) => work(t, c)));
  const armWork = cells.tasks.map((t) => t.armCells.map((c) => work(t, c)));
  const all = cells.tasks.flatMap((_, i) => [...stressWork[i]!, ...armWork[i]!]);

  const samples = all.flatMap((w) => w.samples);
  const withSurvival = all.filter((w) => w.survival !== undefined);
  const family = compareFamily(
    samples,
    withSurvival.map((w) => w.survival!.logRank.pValue),
  );
  const comparisons = new Map(samples.map((s, i) => [s, family.comparisons[i]!]));
  const logRankPHolm = new Map(withSurvival.map((w, i) => [w, family.otherPHolm[i]!]));
  const toCell = (w: CellWork) => stressCell(w, comparisons, logRankPHolm.get(w));

  const endpoints = samples.map((s) => {
    const comparison = comparisons.get(s)!;
    return { task: s.task, multiplier: s.multiplier, arm: s.arm, metric: s.metric, comparison, favours: favours(comparison) };
  });

  // Growth: per task, its stress cells then its arm cells, over the signals its stress runs record.
  const growth = cells.tasks.flatMap((t, i) => {
    const signals = signalsIn(t.stress.flatMap((c) => Object.values(c.runsByLabel).flat()));
    return [...stressWork[i]!, ...armWork[i]!].flatMap((w) => growthOf(w.cell, signals));
  });

  // Curves and MoE balance over time, from the stress cells. MoE balance: the MoE tasks and a
  // transformer with MoE FFNs (its signals are the worst block's).
  const overTimeRows = cells.tasks.flatMap((t) => {
    const model = taskModel(t.task, cells.experiments);
    const moe = model?.kind === 'moe' || (model?.kind === 'transformer' && model.ffn === 'moe');
    return t.stress.flatMap((c) => overTime(c, moe).map((row) => ({ task: c.task, m: fmt3(c.multiplier), ...row })));
  });
  const curves = nest<MedianCurve>(overTimeRows.map((x) => [x.task, x.m, x.label, x.curve] as const));
  const balance = nest<BalanceTrace>(overTimeRows.flatMap((x) => (x.balance ? [[x.task, x.label, x.m, x.balance] as const] : [])));

  const detectors = [...new Set(cells.tasks.flatMap((t) => t.detectors))].sort();
  return {
    spec,
    experiments: cells.experiments,
    runsFound: cells.expected.length - cells.missing.length,
    backends: cells.backends,
    runsExpected: cells.expected.length,
    missing: cells.missing,
    unfinished: unfinishedPhases(cells),
    tuning: cells.tuning,
    stress: stressWork.flat().map(toCell),
    armCells: armWork.flat().map(toCell),
    arms: cells.tasks.flatMap((t) => t.arms),
    failureLossFactor: cells.failureLossFactor,
    bestTunedLoss: cells.bestTunedLoss,
    balance,
    growth,
    endpoints,
    familyConfidence: family.familyConfidence,
    verdict: verdictFrom(endpoints),
    primary: decidePrimary(cells),
    detectors,
    curves,
    // Study v3's phases, exploratory: outside every family above.
    phases: { ladder: ladderResults(cells), long: longResults(cells), width: widthTrends(cells), control: controlResults(cells), mechanism: mechanismResults(cells), noise: noiseResults(cells) },
  };
}

/** The analysis of a study folder or of a published bundle (bundle.ts): read it (the only I/O), sort it into cells, compute. */
export function analyzeStudy(dir: string): StudyResults {
  return analyzeCells(collectCells(loadStudyOrBundle(dir)));
}
