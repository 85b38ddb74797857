/**
 * Study analysis: from a study folder's files to numbers. Tuned LRs and LR sensitivity from the
 * tuning runs; per multiplier, median/IQR of spikes per 1k steps, divergence rates and final eval
 * loss, each treatment − baseline difference with a bootstrap 95% CI and Mann–Whitney's
 * P(treatment better) with its p-value; MoE balance over time; and a verdict that follows from
 * the CIs alone. Deterministic: the bootstrap is seeded, so sharded-then-merged studies report
 * the same numbers as unsharded ones.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ExperimentSpec } from '../train/config.js';
import type { StepRecord } from '../train/loop.js';
import type { RunSummary } from '../train/run.js';
import { METRICS_FILE, SUMMARY_FILE, readJSON, readMetrics } from '../train/run_files.js';
import { planTuning, type StudySpec } from './protocol.js';
import { RUNS_DIR, STUDY_FILE, tunedLr, tuningScores, type StudyFile } from './study.js';
import { bootstrapDiffCI, lrSensitivity, mannWhitney, median, medianPerIndex, spikesPer1k, summarize, type Summary } from './stats.js';

/** Seed of every bootstrap in a report, so reports are reproducible to the digit. */
export const BOOTSTRAP_SEED = 20231012;
export const BOOTSTRAP_RESAMPLES = 10_000;

export interface Comparison {
  /** treatment − baseline, in means (rates and counts are sparse: medians would mostly be 0). */
  readonly estimate: number;
  readonly lo: number;
  readonly hi: number;
  /** P(treatment lower than baseline) + ½ P(tie), i.e. Mann–Whitney U / (m·n). Lower is better here. */
  readonly probTreatmentBetter: number;
  readonly pValue: number;
  readonly nBaseline: number;
  readonly nTreatment: number;
}

export interface LabelCell {
  readonly n: number;
  readonly lr: number;
  readonly diverged: number;
  readonly divergenceRate: number;
  readonly spikesPer1k: Record<string, Summary>;
  readonly finalEvalLoss: Summary | null;
}

export interface StressCell {
  readonly task: string;
  readonly multiplier: number;
  readonly byLabel: Record<string, LabelCell>;
  /** Missing when either side has no finished run. */
  readonly divergence?: Comparison;
  readonly spikes: Record<string, Comparison>;
}

export interface TuningResult {
  readonly grid: { lr: number; medianEvalLoss: number; diverged: number; n: number }[];
  readonly tunedLr: number;
  readonly sensitivity: number;
  readonly bestLoss: number;
  readonly initialLoss: number;
}

export interface BalanceTrace {
  /** Median over seeds of each tenth of training's mean. */
  readonly maxVio: number[];
  readonly routerMaxLogit: number[];
  readonly deadExperts: number[];
  /** routerMaxLogit last tenth ÷ first tenth. */
  readonly logitGrowth: number;
}

export type VerdictKind = 'supported' | 'contradicted' | 'inconclusive';

export interface Endpoint {
  readonly task: string;
  readonly multiplier: number;
  readonly metric: string;
  readonly comparison: Comparison;
  /** 'treatment' when the CI lies below 0, 'baseline' when above, null when it straddles 0. */
  readonly favours: 'treatment' | 'baseline' | null;
}

export interface StudyResults {
  readonly spec: StudySpec;
  readonly experiments: Record<string, ExperimentSpec>;
  readonly runsFound: number;
  /** Backends the runs were computed on (one, unless shards were run on different machines). */
  readonly backends: string[];
  readonly runsExpected: number;
  readonly missing: string[];
  readonly tuning: Record<string, Record<string, TuningResult>>;
  readonly stress: StressCell[];
  /** task → label → multiplier → trace (MoE tasks only). */
  readonly balance: Record<string, Record<string, Record<string, BalanceTrace>>>;
  readonly endpoints: Endpoint[];
  readonly verdict: VerdictKind;
  readonly detectors: string[];
  /** Representative curves: task → multiplier → label → median loss per step, and how many runs diverged. */
  readonly curves: Record<string, Record<string, Record<string, { values: number[]; diverged: number; n: number }>>>;
}

interface LoadedStudyRun {
  readonly summary: RunSummary;
  readonly dir: string;
}

function loadSummary(dir: string): RunSummary | undefined {
  const p = join(dir, SUMMARY_FILE);
  return existsSync(p) ? readJSON<RunSummary>(p) : undefined;
}

function compare(baseline: readonly number[], treatment: readonly number[], seed: number): Comparison {
  const ci = bootstrapDiffCI(treatment, baseline, {
    statistic: (xs) => xs.reduce((a, b) => a + b, 0) / xs.length,
    resamples: BOOTSTRAP_RESAMPLES,
    seed,
  });
  const mw = mannWhitney(baseline, treatment);
  return {
    estimate: ci.estimate,
    lo: ci.lo,
    hi: ci.hi,
    probTreatmentBetter: mw.probAGreater,
    pValue: mw.pValue,
    nBaseline: baseline.length,
    nTreatment: treatment.length,
  };
}

/** Spike comparisons need at least this many non-diverged runs on each side. */
export const MIN_STABLE_RUNS = 2;

const spikeRate = (s: RunSummary, detector: string) => spikesPer1k(s.spikes[detector] ?? 0, Math.max(1, s.steps));

function favours(c: Comparison): Endpoint['favours'] {
  if (c.hi < 0) return 'treatment';
  if (c.lo > 0) return 'baseline';
  return null;
}

/**
 * Mean of a per-step series over each of `parts` equal slices of the planned horizon (value i is
 * step i + 1). Slices a run never reached (it diverged) are NaN, so runs of different lengths line up.
 */
export function slices(values: readonly number[], parts: number, plannedSteps = values.length): number[] {
  const out: number[] = [];
  for (let i = 0; i < parts; i++) {
    const a = Math.floor((i * plannedSteps) / parts);
    const b = Math.max(a + 1, Math.floor(((i + 1) * plannedSteps) / parts));
    const xs = values.slice(a, b).filter(Number.isFinite);
    out.push(xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN);
  }
  return out;
}

/** The verdict follows mechanically from the CIs: see `verdictFrom`. */
export function verdictFrom(endpoints: readonly Endpoint[]): VerdictKind {
  const forTreatment = endpoints.some((e) => e.favours === 'treatment');
  const forBaseline = endpoints.some((e) => e.favours === 'baseline');
  if (forTreatment && !forBaseline) return 'supported';
  if (forBaseline && !forTreatment) return 'contradicted';
  return 'inconclusive';
}

export function analyzeStudy(dir: string): StudyResults {
  const studyPath = join(dir, STUDY_FILE);
  if (!existsSync(studyPath)) throw new Error(`${dir}: no ${STUDY_FILE}; is this a study folder?`);
  const file = readJSON<StudyFile>(studyPath);
  const spec = file.spec;
  const experiments = new Map(Object.entries(file.experiments));
  const labels = [spec.baseline, spec.treatment];
  const runsDir = join(dir, RUNS_DIR);
  const missing: string[] = [];
  const backends = new Set<string>();
  let found = 0;

  // ---- tuning
  const tuningPlan = planTuning(spec, experiments);
  const tuning: StudyResults['tuning'] = {};
  for (const task of spec.tasks) {
    const taskRuns = tuningPlan.filter((p) => p.task === task.experiment);
    const loaded = taskRuns.map((p) => ({ p, summary: loadSummary(join(runsDir, p.dirName)) }));
    for (const l of loaded) {
      if (l.summary) backends.add(l.summary.backend);
      if (l.summary) found++;
      else missing.push(l.p.dirName);
    }
    const initials = loaded.map((l) => l.summary?.initialLoss).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
    if (initials.length === 0) continue;
    const initialLoss = median(initials);
    tuning[task.experiment] = {};
    for (const label of labels) {
      const mine = loaded.filter((l) => l.p.label === label && l.summary);
      if (mine.length === 0) continue;
      const results = mine.map((l) => ({ lr: l.p.lr, summary: l.summary! }));
      const grid = tuningScores(results).map(({ lr, score, n }) => ({
        lr,
        medianEvalLoss: score,
        diverged: results.filter((r) => r.lr === lr && r.summary.diverged).length,
        n,
      }));
      const sens = lrSensitivity(
        grid.map((g) => ({ lr: g.lr, finalLoss: g.medianEvalLoss, diverged: false })),
        initialLoss,
      );
      tuning[task.experiment]![label] = {
        grid,
        tunedLr: tunedLr(results).lr,
        sensitivity: sens.sensitivity,
        bestLoss: sens.best,
        initialLoss,
      };
    }
  }

  // ---- stress
  const stress: StressCell[] = [];
  const detectors = new Set<string>();
  const balance: StudyResults['balance'] = {};
  const curves: StudyResults['curves'] = {};
  const endpoints: Endpoint[] = [];
  let cellSeed = BOOTSTRAP_SEED;
  const fmtM = (m: number) => Number(m.toPrecision(3)).toString();
  for (const task of spec.tasks) {
    for (const multiplier of spec.stress.multipliers) {
      const byLabel: Record<string, LabelCell> = {};
      const runsByLabel: Record<string, LoadedStudyRun[]> = {};
      for (const label of labels) {
        const runs: LoadedStudyRun[] = [];
        for (const seed of spec.seeds) {
          const name = `stress__${task.experiment}__${label}__x${fmtM(multiplier)}__s${seed}`;
          const summary = loadSummary(join(runsDir, name));
          if (summary) {
            found++;
            backends.add(summary.backend);
            runs.push({ summary, dir: join(runsDir, name) });
          } else missing.push(name);
        }
        runsByLabel[label] = runs;
        if (runs.length === 0) continue;
        for (const r of runs) for (const d of Object.keys(r.summary.spikes)) detectors.add(d);
        const spikes: Record<string, Summary> = {};
        const stable = runs.filter((r) => !r.summary.diverged);
        for (const d of detectors) {
          if (stable.length > 0) spikes[d] = summarize(stable.map((r) => spikeRate(r.summary, d)));
        }
        // A diverged run's last evaluation predates its blow-up: it is not a final loss.
        const evals = stable.map((r) => r.summary.evalLoss).filter((x): x is number => x !== null && Number.isFinite(x));
        const diverged = runs.filter((r) => r.summary.diverged).length;
        byLabel[label] = {
          n: runs.length,
          lr: tuning[task.experiment]?.[label]?.tunedLr !== undefined ? tuning[task.experiment]![label]!.tunedLr * multiplier : NaN,
          diverged,
          divergenceRate: diverged / runs.length,
          spikesPer1k: spikes,
          finalEvalLoss: evals.length ? summarize(evals) : null,
        };
      }
      const base = runsByLabel[spec.baseline]!;
      const treat = runsByLabel[spec.treatment]!;
      const cell: StressCell = { task: task.experiment, multiplier, byLabel, spikes: {} };
      if (base.length > 0 && treat.length > 0) {
        const div = (rs: LoadedStudyRun[]) => rs.map((r) => (r.summary.diverged ? 1 : 0));
        const divergence = compare(div(base), div(treat), cellSeed++);
        (cell as { divergence?: Comparison }).divergence = divergence;
        endpoints.push({ task: task.experiment, multiplier, metric: 'divergence rate', comparison: divergence, favours: favours(divergence) });
        // Spike rates compare runs that did not diverge: a run that blew up at step 5 has "no
        // spikes", which says nothing about stability; divergence is its own endpoint.
        const stableBase = base.filter((r) => !r.summary.diverged);
        const stableTreat = treat.filter((r) => !r.summary.diverged);
        for (const d of [...detectors].sort()) {
          if (stableBase.length < MIN_STABLE_RUNS || stableTreat.length < MIN_STABLE_RUNS) continue;
          const rate = (rs: LoadedStudyRun[]) => rs.map((r) => spikeRate(r.summary, d));
          const c = compare(rate(stableBase), rate(stableTreat), cellSeed++);
          cell.spikes[d] = c;
          endpoints.push({ task: task.experiment, multiplier, metric: `spikes/1k (${d})`, comparison: c, favours: favours(c) });
        }
      }
      stress.push(cell);

      // Curves and MoE balance over time, from the metrics files.
      const isMoe = experiments.get(task.experiment)?.model.kind === 'moe';
      for (const label of labels) {
        const metrics = (runsByLabel[label] ?? [])
          .filter((r) => existsSync(join(r.dir, METRICS_FILE)))
          .map((r) => readMetrics<StepRecord>(join(r.dir, METRICS_FILE)));
        if (metrics.length === 0) continue;
        ((curves[task.experiment] ??= {})[fmtM(multiplier)] ??= {})[label] = {
          values: medianPerIndex(metrics.map((m) => m.map((r) => (r.loss === null ? NaN : r.loss)))),
          diverged: (runsByLabel[label] ?? []).filter((r) => r.summary.diverged).length,
          n: metrics.length,
        };
        if (isMoe) {
          const trace = (key: 'maxVio' | 'routerMaxLogit' | 'deadExperts') =>
            medianPerIndex(
              metrics.map((m) => slices(m.map((r) => (typeof r[key] === 'number' ? r[key]! : NaN)), 10, spec.stress.steps)),
            );
          const logits = trace('routerMaxLogit');
          ((balance[task.experiment] ??= {})[label] ??= {})[fmtM(multiplier)] = {
            maxVio: trace('maxVio'),
            routerMaxLogit: logits,
            deadExperts: trace('deadExperts'),
            logitGrowth: logits[logits.length - 1]! / logits[0]!,
          };
        }
      }
    }
  }
  const runsExpected = tuningPlan.length + spec.tasks.length * labels.length * spec.stress.multipliers.length * spec.seeds.length;
  return {
    spec,
    experiments: file.experiments,
    runsFound: found,
    backends: [...backends].sort(),
    runsExpected,
    missing,
    tuning,
    stress,
    balance,
    endpoints,
    verdict: verdictFrom(endpoints),
    detectors: [...detectors].sort(),
    curves,
  };
}
