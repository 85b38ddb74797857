/**
 * Tuning records: every shipped experiment runs at the LRs of its record (made for its spec as it
 * is now) or states where its LRs come from; the spec hash; applying a record (Muon's internal
 * AdamW group included); a stale record is refused with a warning; buildRecord from known summaries.
 */
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { EXPERIMENTS_DIR, listExperimentNames, loadExperiment, loadExperimentSpec } from '../../src/catalog/experiments.js';
import { buildRecord } from '../../src/study/tune.js';
import {
  applyTuning,
  groupLearningRates,
  readRecord,
  recordPath,
  specHash,
  withGroupLearningRates,
  type TunedRecord,
} from '../../src/study/tuned_record.js';
import type { ExperimentSpec } from '../../src/train/config.js';
import type { RunSummary } from '../../src/train/run.js';
import { fakeSummary, tinyMlp, tinyMoe } from '../train/fixtures.js';

beforeAll(async () => {
  await initBackend();
});

describe('shipped experiments', () => {
  const names = listExperimentNames();

  it('finds the shipped experiments', () => {
    for (const n of ['mnist-mlp', 'moe-regimes', 'moe-router-muon']) expect(names).toContain(n);
  });

  it.each(names)('%s runs at the LRs of its tuning record, made for its current spec — or states where its LRs come from', async (name) => {
    const spec = await loadExperimentSpec(name);
    const file = recordPath(EXPERIMENTS_DIR, name);
    const record = readRecord(file);
    const warnings: string[] = [];
    const loaded = await loadExperiment(name, EXPERIMENTS_DIR, (l) => warnings.push(l));
    if (!record) {
      expect(spec.lrSource, `${name} has no record ${file}: run \`npm run tune -- ${name}\` or state lrSource in the spec`).toBeDefined();
      for (const setup of Object.values(loaded.optimizers)) expect(setup.lrSource).toBe(spec.lrSource);
      return;
    }
    expect(spec.lrSource, `${name} has a tuning record, so its lrSource statement is out of date: remove it`).toBeUndefined();
    expect(record.experiment).toBe(name);
    expect(record.specHash, `${file} was made for another version of ${name}: rerun \`npm run tune -- ${name}\``).toBe(specHash(spec));
    expect(warnings).toEqual([]);
    expect(Object.keys(record.optimizers).sort()).toEqual(Object.keys(spec.optimizers).sort());
    for (const [label, setup] of Object.entries(loaded.optimizers)) {
      const tuned = record.optimizers[label]!;
      // Every group, Muon's internal AdamW included, at the record's LR; the main group at the tuned grid LR.
      expect(groupLearningRates(setup), `${name}/${label}`).toEqual(tuned.groupLrs);
      expect(Object.values(tuned.groupLrs)[0]).toBe(tuned.tuned.lr);
      expect(tuned.grid.map((g) => g.lr)).toContain(tuned.tuned.lr);
      expect(tuned.grid.find((g) => g.lr === tuned.tuned.lr)!.eligible || tuned.noEligibleLr).toBe(true);
      const seeds = record.seeds.length;
      expect(setup.lrSource).toBe(`tuned: ${tuned.grid.length}-point grid, ${seeds} seed${seeds === 1 ? '' : 's'}`);
      for (const [g, lr] of Object.entries(tuned.groupLrs)) expect(lr).toBeCloseTo(tuned.specLrs[g]! * tuned.tuned.lrScale, 12);
    }
  });
});

describe('specHash', () => {
  it('ignores the description, run seeds, --quick overrides and LR-source statements; not the LRs, steps or model', () => {
    const h = specHash(tinyMoe);
    expect(specHash({ ...tinyMoe, description: 'other', seeds: [5, 6], quick: { steps: 2 }, lrSource: 'hand-picked: x' })).toBe(h);
    const marked = applyTuning(tinyMoe, undefined, 'none').spec;
    expect(marked.optimizers['adamw']!.lrSource).toBeDefined();
    expect(specHash(marked)).toBe(h);
    expect(specHash({ ...tinyMoe, steps: 31 })).not.toBe(h);
    expect(specHash({ ...tinyMoe, model: { kind: 'moe', experts: 8, topK: 2, expertHidden: 8, activation: 'relu' } })).not.toBe(h);
    const otherLr = { ...tinyMoe, optimizers: { ...tinyMoe.optimizers, adamw: { name: 'adamw', options: { learningRate: 1e-3 } } } };
    expect(specHash(otherLr)).not.toBe(h);
  });
});

const summary = (p: Partial<RunSummary>): RunSummary =>
  fakeSummary({ experiment: 'tiny-moe', optimizer: 'adamw', optimizerName: 'adamw', steps: 30, plannedSteps: 30, finalLoss: 1, minLoss: 1, initialLoss: 2, evalLoss: 1, wallSeconds: 0, ...p });
const META = { seeds: [0, 1, 2], backend: 'wasm', commit: 'abc', commitDirty: false, date: '2026-01-01T00:00:00.000Z', wallSeconds: 1, command: 'test' };

/** adamw: 1e-3 → medians 0.9, 1e-2 → 0.5; muon: 0.02 → 0.6, 0.1 → 0.4 but one seed diverged (not eligible). */
function tinyRecord(spec: ExperimentSpec = tinyMoe): TunedRecord {
  const at = (label: string, lr: number, evals: number[], divergedSeed?: number) =>
    evals.map((evalLoss, seed) => ({ label, lr, summary: summary({ optimizer: label, seed, evalLoss, diverged: seed === divergedSeed }) }));
  return buildRecord(
    spec,
    [
      ...at('adamw', 1e-3, [0.9, 0.8, 1.0]),
      ...at('adamw', 1e-2, [0.5, 0.5, 0.6]),
      ...at('muon', 0.02, [0.6, 0.6, 0.7]),
      ...at('muon', 0.1, [0.4, 0.4, 0.1], 2),
    ],
    META,
  );
}

describe('buildRecord', () => {
  it('grid medians, divergence counts, the eligible tuned LR beside the best-scoring one, and every group LR', () => {
    const r = tinyRecord();
    expect(r.specHash).toBe(specHash(tinyMoe));
    expect(r.steps).toBe(30);
    expect(r.seeds).toEqual([0, 1, 2]);
    expect(r.rule).toMatch(/diverged in no seed/);
    const adamw = r.optimizers['adamw']!;
    expect(adamw.grid.map((g) => [g.lr, g.medianEvalLoss, g.diverged, g.eligible])).toEqual([
      [1e-3, 0.9, 0, true],
      [1e-2, 0.5, 0, true],
    ]);
    expect(adamw.tuned.lr).toBe(1e-2);
    expect(adamw.groupLrs).toEqual({ adamw: 1e-2 });
    expect(adamw.atGridEdge).toBe(true);
    const muon = r.optimizers['muon']!;
    // 0.1: scores {0.4, 0.4, 2 (diverged → initial loss)} → median 0.4, the best, but not eligible.
    expect(muon.best).toEqual({ lr: 0.1, medianEvalLoss: 0.4 });
    expect(muon.tuned).toEqual({ lr: 0.02, lrScale: 1, medianEvalLoss: 0.6 });
    expect(muon.grid.find((g) => g.lr === 0.1)).toMatchObject({ diverged: 1, n: 3, eligible: false });
    // tinyMoe's Muon: 0.02 with its internal AdamW at 3e-3.
    expect(muon.specLrs).toEqual({ muon: 0.02, adamw: 3e-3 });
    expect(muon.groupLrs).toEqual({ muon: 0.02, adamw: 3e-3 });
  });

  it("scales the internal AdamW group with Muon's tuned LR (lrScale multiplies every group, as in the tuning runs)", () => {
    const spec = { ...tinyMoe, optimizers: { ...tinyMoe.optimizers, muon: { name: 'muon', options: { learningRate: 0.01, adamw: { learningRate: 3e-3 } } } } };
    const muon = tinyRecord(spec).optimizers['muon']!;
    expect(muon.tuned).toMatchObject({ lr: 0.02, lrScale: 2 });
    expect(muon.groupLrs).toEqual({ muon: 0.02, adamw: 3e-3 * 2 });
  });
});

describe('applyTuning', () => {
  it('sets every group LR from the record and marks the source', () => {
    const spec = { ...tinyMoe, optimizers: { ...tinyMoe.optimizers, muon: { name: 'muon', options: { learningRate: 0.01, adamw: { learningRate: 3e-3 } } } } };
    const a = applyTuning(spec, tinyRecord(spec), 'x.json');
    expect(a.status).toBe('tuned');
    expect(a.warning).toBeUndefined();
    expect(groupLearningRates(a.spec.optimizers['adamw']!)).toEqual({ adamw: 1e-2 });
    expect(groupLearningRates(a.spec.optimizers['muon']!)).toEqual({ muon: 0.02, adamw: 6e-3 });
    expect(a.spec.optimizers['adamw']!.lrSource).toBe('tuned: 2-point grid, 3 seeds');
    expect(applyTuning(spec, { ...tinyRecord(spec), seeds: [0] }, 'x.json').spec.optimizers['adamw']!.lrSource).toBe('tuned: 2-point grid, 1 seed');
    // Everything else in the spec is untouched.
    expect(a.spec.optimizers['muon']!.options!['adamw']).toEqual({ learningRate: 6e-3 });
    expect({ ...a.spec, optimizers: null }).toEqual({ ...spec, optimizers: null });
  });

  it('does not apply a record made for another spec, and warns', () => {
    const record = tinyRecord();
    const changed = { ...tinyMoe, steps: 40 };
    const a = applyTuning(changed, record, 'experiments/tuned/tiny-moe.json');
    expect(a.status).toBe('stale');
    expect(a.warning).toMatch(/tuned for a different version of experiment "tiny-moe".*npm run tune -- tiny-moe/);
    expect(groupLearningRates(a.spec.optimizers['adamw']!)).toEqual({ adamw: 3e-3 });
    expect(a.spec.optimizers['adamw']!.lrSource).toMatch(/not tuned/);
  });

  it("without a record: the spec's statement if it makes one, else 'not tuned'", () => {
    expect(applyTuning({ ...tinyMlp, lrSource: 'hand-picked: test' }, undefined, 'x').spec.optimizers['muon']!.lrSource).toBe('hand-picked: test');
    const a = applyTuning(tinyMlp, undefined, 'x');
    expect(a.status).toBe('untuned');
    expect(a.spec.optimizers['muon']!.lrSource).toBe('spec (not tuned)');
  });

  it('withGroupLearningRates refuses a record that leaves a group out', () => {
    expect(() => withGroupLearningRates(tinyMoe.optimizers['muon']!, { muon: 0.1 }, 'rec')).toThrow(/no learning rate for optimizer group "adamw"/);
  });
});

it('the records directory holds only records of experiments that exist', () => {
  for (const name of listExperimentNames()) {
    const file = recordPath(EXPERIMENTS_DIR, name);
    if (existsSync(file)) expect(readRecord(file)!.experiment).toBe(name);
  }
});
