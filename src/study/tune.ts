/**
 * `npm run tune`: the study's per-optimizer LR tuning (tuning.ts) on one experiment as it ships —
 * its own steps, schedule and model — and the record of the result (tuned_record.ts). Runs go to
 * a folder keyed by config hash, so an interrupted tuning resumes where it stopped; the record is
 * written atomically once every run has finished.
 */
import { join } from 'node:path';
import { currentBackend } from '../backend.js';
import type { ExperimentSpec, RunConfig } from '../train/config.js';
import { SpecError } from '../train/config.js';
import { completedSummary, type RunSummary } from '../train/run.js';
import { ensureDir, provenance, writeJSONAtomic } from '../train/run_files.js';
import { openPool, stopSignal } from './pool.js';
import { tuneDirName } from './protocol.js';
import type { StudyProgress } from './study.js';
import { groupLearningRates, specHash, type TunedLabel, type TunedRecord } from './tuned_record.js';
import { ELIGIBILITY_RULE, baseLr, chooseTunedLr, gridRuns } from './tuning.js';
import { formatNumber, renderTable } from '../text/table.js';

export interface TunePlanRun {
  readonly label: string;
  readonly lr: number;
  readonly seed: number;
  readonly config: RunConfig;
  readonly dir: string;
}

/** The grid for each optimizer label: by label, else by the optimizer's registry name. */
export function gridsFor(spec: ExperimentSpec, grids: Readonly<Record<string, readonly number[]>>): Record<string, readonly number[]> {
  const out: Record<string, readonly number[]> = {};
  for (const [label, setup] of Object.entries(spec.optimizers)) {
    const grid = grids[label] ?? grids[setup.name];
    if (!grid) {
      throw new SpecError(
        `experiment "${spec.name}": no LR grid for optimizer "${label}" (${setup.name}); the study's grids cover ${Object.keys(grids).join(', ')}`,
      );
    }
    if (typeof setup.options?.['learningRate'] !== 'number') {
      throw new SpecError(`experiment "${spec.name}": optimizer "${label}" must set options.learningRate: the grid scales it (and every other group's LR with it)`);
    }
    out[label] = grid;
  }
  return out;
}

/** Every tuning run of `spec`: each label × its grid × seeds, over the experiment's own steps. */
export function planExperimentTuning(
  spec: ExperimentSpec,
  grids: Readonly<Record<string, readonly number[]>>,
  seeds: readonly number[],
  runsDir: string,
): TunePlanRun[] {
  const byLabel = gridsFor(spec, grids);
  return Object.entries(byLabel).flatMap(([label, grid]) =>
    gridRuns(spec, label, grid, seeds, spec.steps).map((r) => ({
      label,
      lr: r.lr,
      seed: r.seed,
      config: r.config,
      dir: join(runsDir, tuneDirName(spec.name, label, r.lr, r.seed)),
    })),
  );
}

const finiteOrNull = (x: number) => (Number.isFinite(x) ? x : null);

/** The record from finished tuning runs (pure: the tests build records from hand-made summaries). */
export function buildRecord(
  spec: ExperimentSpec,
  results: readonly { label: string; lr: number; summary: RunSummary }[],
  meta: Pick<TunedRecord, 'seeds' | 'backend' | 'commit' | 'commitDirty' | 'date' | 'wallSeconds' | 'command'>,
): TunedRecord {
  const optimizers: Record<string, TunedLabel> = {};
  for (const [label, setup] of Object.entries(spec.optimizers)) {
    const mine = results.filter((r) => r.label === label);
    if (mine.length === 0) continue;
    const choice = chooseTunedLr(mine);
    const base = baseLr(spec, label);
    const specLrs = groupLearningRates(setup);
    const [mainGroup] = Object.keys(specLrs);
    const scale = choice.tuned.lr / base;
    const score = (lr: number) => finiteOrNull(choice.grid.find((g) => g.lr === lr)!.score);
    optimizers[label] = {
      optimizer: setup.name,
      specLrs,
      grid: choice.grid.map((g) => ({
        lr: g.lr,
        lrScale: g.lr / base,
        medianEvalLoss: finiteOrNull(g.score),
        diverged: g.diverged,
        n: g.n,
        eligible: g.eligible,
      })),
      best: { lr: choice.best.lr, medianEvalLoss: score(choice.best.lr) },
      tuned: { lr: choice.tuned.lr, lrScale: scale, medianEvalLoss: score(choice.tuned.lr) },
      // The same products the tuning runs used (group LR × lrScale); the main group exactly the grid LR.
      groupLrs: Object.fromEntries(Object.entries(specLrs).map(([g, lr]) => [g, g === mainGroup ? choice.tuned.lr : lr * scale])),
      atGridEdge: choice.tuned.lr === choice.grid[0]!.lr || choice.tuned.lr === choice.grid[choice.grid.length - 1]!.lr,
      noEligibleLr: choice.noEligibleLr,
    };
  }
  return {
    experiment: spec.name,
    specHash: specHash(spec),
    rule: ELIGIBILITY_RULE,
    seeds: meta.seeds,
    steps: spec.steps,
    schedule: spec.schedule,
    optimizers,
    backend: meta.backend,
    commit: meta.commit,
    commitDirty: meta.commitDirty,
    date: meta.date,
    wallSeconds: meta.wallSeconds,
    command: meta.command,
  };
}

export interface TuneOptions {
  readonly grids: Readonly<Record<string, readonly number[]>>;
  readonly seeds: readonly number[];
  /** Folder for the tuning runs (resumable). */
  readonly runsDir: string;
  /** Where the record goes (experiments/tuned/<name>.json). */
  readonly recordFile: string;
  readonly workers: number;
  readonly command: string;
  readonly events?: StudyProgress;
}

/**
 * Run (or resume) the tuning of `spec` — the spec as written, never one whose LRs came from a
 * record — and write its record. Returns undefined when stopped (Ctrl-C) before the end.
 */
export async function tuneExperiment(spec: ExperimentSpec, o: TuneOptions): Promise<TunedRecord | undefined> {
  const started = performance.now();
  const planned = planExperimentTuning(spec, o.grids, o.seeds, o.runsDir);
  const backend = currentBackend().name;
  ensureDir(o.runsDir);
  const todo = planned.filter((p) => !completedSummary(p.dir, p.config, backend));
  o.events?.onPhase?.('tune', todo.length, planned.length - todo.length, todo.reduce((a, p) => a + p.config.steps, 0));
  const pool = openPool(o.workers);
  try {
    await pool.run(
      todo.map((p) => ({ config: p.config, dir: p.dir })),
      o.events,
    );
  } finally {
    await pool.close();
  }
  if (stopSignal.requested) return undefined;
  const results = planned.map((p) => {
    const summary = completedSummary(p.dir, p.config, backend);
    if (!summary) throw new Error(`tuning run ${p.dir} has no summary after running`);
    return { label: p.label, lr: p.lr, summary };
  });
  const prov = provenance();
  const record = buildRecord(spec, results, {
    seeds: o.seeds,
    backend,
    commit: prov['gitCommit'] ?? null,
    commitDirty: prov['gitDirty'] === null || prov['gitDirty'] === undefined ? null : prov['gitDirty'] === 'yes',
    date: new Date().toISOString(),
    wallSeconds: Math.round((performance.now() - started) / 100) / 10,
    command: o.command,
  });
  ensureDir(join(o.recordFile, '..'));
  writeJSONAtomic(o.recordFile, record);
  return record;
}

/** The tuned LRs and the grids that decided them, as `npm run tune` prints them. */
export function renderTuning(record: TunedRecord): string {
  const rows = Object.entries(record.optimizers).map(([label, t]) => [
    label,
    `${formatNumber(t.tuned.lr)}${t.atGridEdge ? ' (grid edge)' : ''}${t.noEligibleLr ? ' (no LR free of divergence)' : ''}`,
    formatNumber(t.tuned.medianEvalLoss),
    t.best.lr === t.tuned.lr ? 'same' : `${formatNumber(t.best.lr)}: ${formatNumber(t.best.medianEvalLoss)} (not eligible)`,
    Object.entries(t.groupLrs).map(([g, lr]) => `${g} ${formatNumber(lr)}`).join(', '),
    t.grid.map((g) => `${formatNumber(g.lr)}: ${formatNumber(g.medianEvalLoss)}${g.diverged ? ` (${g.diverged}/${g.n} div)` : ''}`).join('; '),
  ]);
  return [
    `${record.experiment}: ${record.steps} steps, seeds ${record.seeds.join(',')}, backend ${record.backend}`,
    renderTable(['optimizer', 'tuned LR', 'median eval loss', 'best-scoring LR', 'group LRs used', 'grid (LR: median final eval loss)'], rows),
    `Rule: ${ELIGIBILITY_RULE}.`,
  ].join('\n');
}
