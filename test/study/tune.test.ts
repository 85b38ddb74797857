/**
 * `npm run tune` end to end on the tiny MoE (3-point grids, 2 seeds, 30 steps: 12 short runs):
 * the record agrees with the runs it came from, the runs are the study's grid runs, a rerun
 * resumes (runs nothing) and reproduces the record, and grids are found by label or optimizer name.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentBackend, initBackend } from '../../src/backend.js';
import { gridsFor, planExperimentTuning, tuneExperiment } from '../../src/study/tune.js';
import { groupLearningRates, readRecord, specHash, type TunedRecord } from '../../src/study/tuned_record.js';
import { chooseTunedLr, gridRuns } from '../../src/study/tuning.js';
import { SpecError } from '../../src/train/config.js';
import { completedSummary } from '../../src/train/run.js';
import { tempDir, tinyMoe } from '../train/fixtures.js';

const grids = { adamw: [1e-3, 1e-2, 1e-1], muon: [0.01, 0.05, 0.25] };
const seeds = [0, 1];
let root: string;
let record: TunedRecord;
const phases: [number, number][] = [];

beforeAll(async () => {
  await initBackend();
  root = tempDir('tune');
  const r = await tuneExperiment(tinyMoe, {
    grids,
    seeds,
    runsDir: join(root, 'runs'),
    recordFile: join(root, 'tuned', 'tiny-moe.json'),
    workers: 1,
    command: 'test',
    events: { onPhase: (_p, todo, skipped) => phases.push([todo, skipped]) },
  });
  record = r!;
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('tuneExperiment', () => {
  it('runs every grid LR × seed of every optimizer once, as the study plans them', () => {
    expect(phases).toEqual([[12, 0]]);
    const plan = planExperimentTuning(tinyMoe, grids, seeds, join(root, 'runs'));
    expect(plan).toHaveLength(12);
    for (const label of ['adamw', 'muon']) {
      const study = gridRuns(tinyMoe, label, grids[label as 'adamw'], seeds, tinyMoe.steps).map((r) => r.config);
      expect(plan.filter((p) => p.label === label).map((p) => p.config)).toEqual(study);
    }
    // The experiment's own steps and schedule, evaluated once at the end.
    for (const p of plan) {
      expect(p.config.steps).toBe(tinyMoe.steps);
      expect(p.config.schedule).toEqual(tinyMoe.schedule);
      expect(p.config.evalEvery).toBe(tinyMoe.steps);
    }
  });

  it('writes a record that follows from the runs: medians, divergences, the tuned LR by the shared rule, every group LR', () => {
    expect(readRecord(join(root, 'tuned', 'tiny-moe.json'))).toEqual(JSON.parse(JSON.stringify(record)));
    expect(record.specHash).toBe(specHash(tinyMoe));
    expect(record.seeds).toEqual(seeds);
    expect(record.backend).toBe(currentBackend().name);
    const plan = planExperimentTuning(tinyMoe, grids, seeds, join(root, 'runs'));
    for (const label of ['adamw', 'muon']) {
      const results = plan.filter((p) => p.label === label).map((p) => ({ lr: p.lr, summary: completedSummary(p.dir, p.config, currentBackend().name)! }));
      const choice = chooseTunedLr(results);
      const t = record.optimizers[label]!;
      expect(t.tuned.lr).toBe(choice.tuned.lr);
      expect(t.best.lr).toBe(choice.best.lr);
      expect(t.grid.map((g) => [g.lr, g.diverged, g.n])).toEqual(choice.grid.map((g) => [g.lr, g.diverged, g.n]));
      // The LRs the experiment will use are the ones the tuned grid point actually ran at.
      const ran = plan.find((p) => p.label === label && p.lr === t.tuned.lr)!.config;
      const effective = Object.fromEntries(Object.entries(groupLearningRates(ran.optimizer)).map(([g, lr]) => [g, lr * ran.lrScale]));
      for (const [g, lr] of Object.entries(t.groupLrs)) expect(lr).toBeCloseTo(effective[g]!, 15);
    }
  });

  it('a rerun resumes (runs nothing) and reproduces the record', async () => {
    const again: [number, number][] = [];
    const r = await tuneExperiment(tinyMoe, {
      grids,
      seeds,
      runsDir: join(root, 'runs'),
      recordFile: join(root, 'again.json'),
      workers: 1,
      command: 'test',
      events: { onPhase: (_p, todo, skipped) => again.push([todo, skipped]) },
    });
    expect(again).toEqual([[0, 12]]);
    const strip = ({ date: _d, wallSeconds: _w, ...rest }: TunedRecord) => rest;
    expect(strip(r!)).toEqual(strip(record));
  });
});

describe('gridsFor', () => {
  it('finds a grid by label, then by optimizer name, and names what is missing', () => {
    const spec = { ...tinyMoe, optimizers: { ...tinyMoe.optimizers, 'muon-b': { name: 'muon', options: { learningRate: 0.02 } } } };
    expect(gridsFor(spec, grids)).toEqual({ adamw: grids.adamw, muon: grids.muon, 'muon-b': grids.muon });
    const sgd = { ...tinyMoe, optimizers: { sgd: { name: 'sgd', options: { learningRate: 0.1 } } } };
    expect(() => gridsFor(sgd, grids)).toThrow(SpecError);
    expect(() => gridsFor(sgd, grids)).toThrow(/no LR grid for optimizer "sgd"/);
    const noLr = { ...tinyMoe, optimizers: { adamw: { name: 'adamw' } } };
    expect(() => gridsFor(noLr, grids)).toThrow(/must set options.learningRate/);
  });
});
