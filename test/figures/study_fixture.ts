/**
 * A synthetic study folder for the figure tests and the browser check: study.json, every tuning and
 * stress run of a small spec over tiny-mlp and tiny-moe, with seeded noisy decaying losses, spike
 * flags, evaluations, MoE balance metrics, optional LM attention metrics, and divergences whose
 * places are known (so a test can count the markers a figure must show). No training: milliseconds.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../src/data/rng.js';
import { planStress, planTuning, type StudySpec } from '../../src/study/protocol.js';
import type { PrimaryEndpoint } from '../../src/study/verdict.js';
import { RUNS_DIR, STUDY_FILE, type StudyFile } from '../../src/study/study.js';
import type { ExperimentSpec, RunConfig } from '../../src/train/config.js';
import type { StepRecord } from '../../src/train/loop.js';
import { configHash, type RunSummary } from '../../src/train/run.js';
import { CONFIG_FILE, METRICS_FILE, SUMMARY_FILE, ensureDir, toJSONLine, writeJSONAtomic } from '../../src/train/run_files.js';
import { tinyMlp, tinyMoe } from '../train/fixtures.js';

export const FIXTURE_SEEDS = [0, 1, 2];
export const FIXTURE_MULTIPLIERS = [1, 2, 4];
export const FIXTURE_STRESS_STEPS = 120;
export const FIXTURE_TUNE_STEPS = 40;
export const FIXTURE_DETECTORS = ['gradnorm', 'median', 'zscore'];
export const FIXTURE_TASKS = ['tiny-mlp', 'tiny-moe'];
const INITIAL = 2.3;

/**
 * Primary endpoints this fixture can decide: adamw's planted late spikes at 2× (none in muon's), and
 * time to failure at 4× (every adamw run diverges there, one muon run of three).
 */
export const FIXTURE_SPIKES_AT_2: PrimaryEndpoint = {
  subClaim: 'a',
  task: 'tiny-moe',
  arm: 'none',
  multipliers: [2],
  metric: 'late spikes/1k',
  detector: 'median',
  supportsWhen: 'treatment-lower',
  test: 'rank-sum',
};
export const FIXTURE_FAILURE_AT_4: PrimaryEndpoint = { ...FIXTURE_SPIKES_AT_2, subClaim: 'c', multipliers: [4], metric: 'time to failure', detector: null, test: 'log-rank' };

export const fixtureExperiments: ReadonlyMap<string, ExperimentSpec> = new Map([
  ['tiny-mlp', tinyMlp],
  ['tiny-moe', tinyMoe],
]);

export function fixtureSpec(): StudySpec {
  return {
    name: 'figures-fixture',
    description: 'synthetic study for the figure tests',
    tasks: FIXTURE_TASKS.map((experiment) => ({ experiment })),
    baseline: 'adamw',
    treatment: 'muon',
    seeds: FIXTURE_SEEDS,
    tune: { grid: { adamw: [1e-3, 1e-2, 1e-1], muon: [0.01, 0.05, 0.25] }, steps: FIXTURE_TUNE_STEPS },
    stress: { multipliers: FIXTURE_MULTIPLIERS, steps: FIXTURE_STRESS_STEPS },
  };
}

/** Tuned LRs the tuning runs below produce (the middle grid point has the lowest eval loss). */
export const FIXTURE_TUNED: Record<string, number> = { adamw: 1e-2, muon: 0.05 };

/**
 * Where stress runs diverge: adamw at 4× in every seed (step 40 + 10·seed), muon at 4× in seed 2
 * only (step 90). Everything else finishes.
 */
export function fixtureDivergesAt(label: string, multiplier: number, seed: number): number | null {
  if (multiplier !== 4) return null;
  if (label === 'adamw') return 40 + 10 * seed;
  return seed === 2 ? 90 : null;
}

/** Spike events are planted every 30 steps in adamw runs at 2× (first steps 30, 60, 90), none elsewhere. */
export function fixtureSpikeSteps(label: string, multiplier: number, steps: number): number[] {
  if (label !== 'adamw' || multiplier !== 2) return [];
  return [30, 60, 90].filter((s) => s <= steps);
}

function summaryFor(config: RunConfig, steps: number, divergedAt: number | null, evalLoss: number | null, spikes: number): RunSummary {
  const diverged = divergedAt !== null;
  return {
    experiment: config.experiment,
    optimizer: config.label,
    optimizerName: config.optimizer.name,
    seed: config.seed,
    lrScale: config.lrScale,
    steps,
    plannedSteps: config.steps,
    finalLoss: diverged ? null : (evalLoss ?? 1),
    minLoss: 0.1,
    initialLoss: INITIAL,
    evalLoss,
    spikes: Object.fromEntries(FIXTURE_DETECTORS.map((d) => [d, spikes])),
    spikeDetails: Object.fromEntries(FIXTURE_DETECTORS.map((d) => [d, { events: spikes, flaggedSteps: spikes, firstStep: spikes ? 30 : null }])),
    diverged,
    divergedAtStep: divergedAt,
    interrupted: false,
    wallSeconds: 1,
    backend: 'wasm',
    configHash: configHash(config),
  };
}

interface Options {
  /** Add the LM attention metrics (maxAttnLogit, minAttnEntropy) to every record. */
  readonly attention?: boolean;
}

function records(config: RunConfig, steps: number, divergedAt: number | null, spikeSteps: readonly number[], moe: boolean, o: Options): StepRecord[] {
  const rng = new Rng(config.seed * 7919 + Math.round(config.lrScale * 1000) + (config.label === 'muon' ? 1 : 0));
  const floor = config.label === 'muon' ? 0.08 : 0.15;
  const out: StepRecord[] = [];
  for (let step = 1; step <= steps; step++) {
    const clean = floor + (INITIAL - floor) * Math.exp(-step / 25);
    let loss = clean * (1 + 0.15 * (rng.next() - 0.5));
    const spikes = spikeSteps.includes(step) ? ['median', 'zscore'] : [];
    if (spikes.length) loss *= 4;
    if (divergedAt !== null && step === divergedAt) loss = NaN;
    const r: StepRecord = { step, loss, gradNorm: 1 + rng.next(), updateRms: {}, lr: 0.01, ms: 2 };
    if (step % 20 === 0 && Number.isFinite(loss)) r.evalLoss = clean * 1.1;
    if (moe) {
      r.maxVio = (config.label === 'adamw' ? 0.6 : 0.3) + 0.1 * rng.next();
      r.routerMaxLogit = config.label === 'adamw' ? 1 + step / 40 : 1.2;
      r.deadExperts = 0;
    }
    if (o.attention) {
      (r as StepRecord & Record<string, number>).maxAttnLogit = 2 + step / 30;
      (r as StepRecord & Record<string, number>).minAttnEntropy = 1.5 - step / 200;
    }
    if (spikes.length) r.spikes = spikes;
    out.push(r);
  }
  return out;
}

function writeRun(dir: string, config: RunConfig, summary: RunSummary, recs: readonly StepRecord[]): void {
  ensureDir(dir);
  writeJSONAtomic(join(dir, CONFIG_FILE), { ...config, configHash: configHash(config), backend: 'wasm' });
  writeJSONAtomic(join(dir, SUMMARY_FILE), summary);
  writeFileSync(join(dir, METRICS_FILE), recs.map((r) => `${toJSONLine(r)}\n`).join(''));
}

/** Tuning eval losses: the middle grid point is best; adamw's largest LR diverges in seed 0. */
function tuningOutcome(label: string, lrIndex: number, seed: number): { evalLoss: number | null; divergedAt: number | null } {
  if (label === 'adamw' && lrIndex === 2 && seed === 0) return { evalLoss: null, divergedAt: 12 };
  const base = [0.9, 0.3, 0.6][lrIndex]! * (label === 'muon' ? 0.8 : 1);
  return { evalLoss: base * (1 + 0.05 * seed), divergedAt: null };
}

export function writeStudyFixture(dir: string, o: Options = {}): StudySpec {
  const study = fixtureSpec();
  ensureDir(join(dir, RUNS_DIR));
  const file: StudyFile = { spec: study, experiments: Object.fromEntries(fixtureExperiments) };
  writeJSONAtomic(join(dir, STUDY_FILE), file);
  for (const p of planTuning(study, fixtureExperiments)) {
    const lrIndex = study.tune.grid[p.label]!.indexOf(p.lr);
    const t = tuningOutcome(p.label, lrIndex, p.seed);
    const steps = t.divergedAt ?? FIXTURE_TUNE_STEPS;
    const recs = records(p.config, steps, t.divergedAt, [], false, {});
    writeRun(join(dir, RUNS_DIR, p.dirName), p.config, summaryFor(p.config, steps, t.divergedAt, t.evalLoss, 0), recs);
  }
  for (const task of study.tasks) {
    const moe = fixtureExperiments.get(task.experiment)!.model.kind === 'moe';
    for (const label of ['adamw', 'muon']) {
      for (const p of planStress(study, fixtureExperiments, task, label, FIXTURE_TUNED[label]!)) {
        const divergedAt = fixtureDivergesAt(label, p.multiplier, p.seed);
        const steps = divergedAt ?? FIXTURE_STRESS_STEPS;
        const spikeSteps = fixtureSpikeSteps(label, p.multiplier, steps);
        const recs = records(p.config, steps, divergedAt, spikeSteps, moe, o);
        const evalLoss = divergedAt === null ? [...recs].reverse().find((r) => r.evalLoss !== undefined)?.evalLoss ?? null : null;
        writeRun(join(dir, RUNS_DIR, p.dirName), p.config, summaryFor(p.config, steps, divergedAt, evalLoss, spikeSteps.length), recs);
      }
    }
  }
  return study;
}
