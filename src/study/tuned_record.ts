/**
 * Tuning records (`experiments/tuned/<experiment>.json`, written by `npm run tune`): the learning
 * rates an experiment runs at by default, with the grid that decided them. An experiment's spec
 * keeps its own LRs as the anchor of the grid (the lrScale = 1 point, which also fixes the ratio
 * of Muon's internal AdamW LR to its Muon LR); the record says which multiple of them won. The
 * record names the spec it was made for by a hash of the spec as written, so the LRs the record
 * supplies never feed back into the hash.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createOptimizer } from '../optimizers/index.js';
import type { ExperimentSpec, OptimizerSetup } from '../train/config.js';
import { SpecError } from '../train/config.js';
import { stableHash } from '../train/run.js';
import { readJSON } from '../train/run_files.js';
import type { ScheduleSpec } from '../train/schedule.js';
import { count } from '../text/plural.js';

export const TUNED_DIR_NAME = 'tuned';

export interface TunedGridPoint {
  /** The main group's LR at this grid point. */
  readonly lr: number;
  /** The multiple of the spec's LRs (every group) this point ran at. */
  readonly lrScale: number;
  /** Median over seeds of the final eval loss (a diverged run counts as its initial loss); null if not finite. */
  readonly medianEvalLoss: number | null;
  readonly diverged: number;
  readonly n: number;
  readonly eligible: boolean;
}

export interface TunedLabel {
  /** Registry name of the optimizer. */
  readonly optimizer: string;
  /** Per optimizer group, the spec's learning rate (lrScale 1). */
  readonly specLrs: Readonly<Record<string, number>>;
  readonly grid: readonly TunedGridPoint[];
  /** The best median over the whole grid, eligible or not. */
  readonly best: { readonly lr: number; readonly medianEvalLoss: number | null };
  /** The tuned LR (tuning.ts's rule) and its multiple of the spec's LRs. */
  readonly tuned: { readonly lr: number; readonly lrScale: number; readonly medianEvalLoss: number | null };
  /** Per optimizer group, the learning rate the experiment runs at: specLrs × tuned.lrScale (the main group: tuned.lr). */
  readonly groupLrs: Readonly<Record<string, number>>;
  readonly atGridEdge: boolean;
  readonly noEligibleLr: boolean;
}

export interface TunedRecord {
  readonly experiment: string;
  /** specHash() of the spec the tuning ran on. */
  readonly specHash: string;
  readonly rule: string;
  readonly seeds: readonly number[];
  readonly steps: number;
  readonly schedule: ScheduleSpec;
  readonly optimizers: Readonly<Record<string, TunedLabel>>;
  readonly backend: string;
  readonly commit: string | null;
  readonly commitDirty: boolean | null;
  readonly date: string;
  /** Wall time of the `tune` invocation that finished the record (a resumed tuning counts only its last part). */
  readonly wallSeconds: number;
  readonly command: string;
}

/**
 * Hash of what a tuning depends on: the spec as written, without its description, its default
 * run seeds (tuning has its own), its --quick overrides and its LR-source statements. The LRs
 * written in the spec stay in: they anchor the grid.
 */
export function specHash(spec: ExperimentSpec): string {
  const { description: _d, seeds: _s, quick: _q, lrSource: _l, ...rest } = spec;
  const optimizers = Object.fromEntries(
    Object.entries(spec.optimizers).map(([label, { lrSource: _src, ...setup }]) => [label, setup]),
  );
  return stableHash({ ...rest, optimizers });
}

export function recordPath(experimentsDir: string, experiment: string): string {
  return join(experimentsDir, TUNED_DIR_NAME, `${experiment}.json`);
}

export function readRecord(path: string): TunedRecord | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return readJSON<TunedRecord>(path);
  } catch (e) {
    throw new SpecError(`${path}: not a valid tuning record (${(e as Error).message.split('\n')[0]})`);
  }
}

/** Each optimizer group's base learning rate under `setup` (its defaults where the spec sets none). */
export function groupLearningRates(setup: OptimizerSetup): Record<string, number> {
  const optimizer = createOptimizer(setup.name, { ...(setup.options ?? {}) });
  try {
    return optimizer.groupLearningRates();
  } finally {
    optimizer.dispose();
  }
}

/**
 * `setup` with each group's learning rate set: the first (main) group through `learningRate`,
 * any other group g through the nested option object `g` (Muon's `adamw`). Checked by building
 * the optimizer, so a group the options cannot reach fails loudly instead of keeping its default.
 */
export function withGroupLearningRates(setup: OptimizerSetup, lrs: Readonly<Record<string, number>>, where: string): OptimizerSetup {
  const current = groupLearningRates(setup);
  const groups = Object.keys(current);
  const options: Record<string, unknown> = { ...(setup.options ?? {}) };
  for (const [i, group] of groups.entries()) {
    const lr = lrs[group];
    if (lr === undefined) throw new SpecError(`${where}: no learning rate for optimizer group "${group}"`);
    if (i === 0) options['learningRate'] = lr;
    else options[group] = { ...((options[group] as Record<string, unknown> | undefined) ?? {}), learningRate: lr };
  }
  const out = { ...setup, options };
  const check = groupLearningRates(out);
  for (const group of groups) {
    if (check[group] !== lrs[group]) throw new SpecError(`${where}: cannot set the learning rate of optimizer group "${group}" through its options`);
  }
  return out;
}

/** "tuned: 8-point grid, 5 seeds" (or "1 seed") */
export function tunedSourceText(record: TunedRecord, label: string): string {
  const t = record.optimizers[label]!;
  const seeds = record.seeds.length;
  return `tuned: ${t.grid.length}-point grid, ${count(seeds, 'seed')}${t.noEligibleLr ? ', no LR free of divergence' : ''}`;
}

export const UNTUNED_SOURCE = 'spec (not tuned)';

export interface AppliedTuning {
  readonly spec: ExperimentSpec;
  /** 'tuned': LRs from the record; 'stated': the spec's LRs with its lrSource; 'untuned': the spec's LRs, no statement; 'stale': a record for another spec, not applied. */
  readonly status: 'tuned' | 'stated' | 'untuned' | 'stale';
  readonly warning?: string;
}

/**
 * The spec with its learning rates taken from `record` (when it was made for this spec), each
 * optimizer marked with where its LRs come from.
 */
export function applyTuning(spec: ExperimentSpec, record: TunedRecord | undefined, recordFile: string): AppliedTuning {
  const mark = (source: string): ExperimentSpec => ({
    ...spec,
    optimizers: Object.fromEntries(Object.entries(spec.optimizers).map(([label, setup]) => [label, { ...setup, lrSource: source }])),
  });
  if (!record) {
    return spec.lrSource !== undefined ? { spec: mark(spec.lrSource), status: 'stated' } : { spec: mark(UNTUNED_SOURCE), status: 'untuned' };
  }
  const hash = specHash(spec);
  if (record.specHash !== hash) {
    return {
      spec: mark(`${UNTUNED_SOURCE}: ${TUNED_DIR_NAME}/${spec.name}.json is for another spec`),
      status: 'stale',
      warning: `${recordFile} was tuned for a different version of experiment "${spec.name}" (spec hash ${record.specHash}, now ${hash}): using the spec's own LRs; rerun \`npm run tune -- ${spec.name}\``,
    };
  }
  const optimizers: Record<string, OptimizerSetup> = {};
  for (const [label, setup] of Object.entries(spec.optimizers)) {
    const tuned = record.optimizers[label];
    optimizers[label] = tuned
      ? { ...withGroupLearningRates(setup, tuned.groupLrs, `${recordFile}: ${label}`), lrSource: tunedSourceText(record, label) }
      : { ...setup, lrSource: UNTUNED_SOURCE };
  }
  return { spec: { ...spec, optimizers }, status: 'tuned' };
}
