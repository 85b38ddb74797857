/**
 * Non-finite numbers: a NaN or Inf injected into a gradient at step k (the corruptGradient hook, or
 * OPT_SANDBOX_FAULTS in a study) marks the run diverged at step k, the study goes on, and no run
 * reported as not diverged carries a non-finite weight or optimizer state.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import type { StudySpec } from '../../src/study/protocol.js';
import { RUNS_DIR, runStudy } from '../../src/study/study.js';
import { readCheckpoint } from '../../src/train/checkpoint.js';
import type { ExperimentSpec } from '../../src/train/config.js';
import { FAULTS_ENV } from '../../src/train/faults.js';
import type { StepRecord } from '../../src/train/loop.js';
import { executeRun, type RunSummary } from '../../src/train/run.js';
import { readJSON, readMetrics } from '../../src/train/run_files.js';
import { oneRun, tempDir, tinyMlp, tinyMoe } from './fixtures.js';

const root = tempDir('nonfinite');
beforeAll(async () => {
  await initBackend();
});
afterEach(() => {
  delete process.env[FAULTS_ENV];
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const allFinite = (dir: string) => {
  const c = readCheckpoint(dir);
  return [...c.variables, ...c.optimizer, ...c.model].every((t) => t.data.every(Number.isFinite));
};

describe('a non-finite gradient', () => {
  for (const [name, value] of [['NaN', NaN], ['+Inf', Infinity]] as const) {
    it(`${name} at step 7 → diverged at step 7, the run stops there`, async () => {
      const config = oneRun(tinyMlp, 'muon', 0, { steps: 20 });
      const dir = join(root, `grad-${name}`);
      const summary = await executeRun(config, dir, { corruptGradient: { step: 7, value } });
      expect(summary.diverged).toBe(true);
      expect(summary.divergedAtStep).toBe(7);
      expect(summary.steps).toBe(7);
      const metrics = readMetrics<StepRecord>(join(dir, 'metrics.jsonl'));
      expect(metrics).toHaveLength(7);
      expect(metrics[6]!.gradNorm).toBeNull(); // written as null
      expect(Number.isFinite(metrics[6]!.loss)).toBe(true); // the loss before the bad update was fine
      expect(readJSON<RunSummary>(join(dir, 'summary.json')).diverged).toBe(true);
    });
  }
});

describe('in a study', () => {
  it('the injected run is diverged at its step, every other run finishes with finite state', async () => {
    const experiments: ReadonlyMap<string, ExperimentSpec> = new Map([['tiny-moe', tinyMoe]]);
    const study: StudySpec = {
      name: 'nan-study',
      description: 'test fixture',
      tasks: [{ experiment: 'tiny-moe' }],
      baseline: 'adamw',
      treatment: 'muon',
      seeds: [0],
      tune: { grid: { adamw: [1e-3, 1e-2], muon: [0.01, 0.05] }, steps: 8 },
      stress: { multipliers: [1, 2], steps: 12 },
      batchSize: 16,
    };
    process.env[FAULTS_ENV] = 'nan-grad@5:stress__tiny-moe__muon__x2__s0';
    const dir = join(root, 'study');
    const result = await runStudy(study, experiments, dir, { workers: 1 });
    expect(result.stress).toHaveLength(4);
    const runs = readdirSync(join(dir, RUNS_DIR)).sort();
    expect(runs).toHaveLength(8);
    for (const name of runs) {
      const runDir = join(dir, RUNS_DIR, name);
      const s = readJSON<RunSummary>(join(runDir, 'summary.json'));
      if (name === 'stress__tiny-moe__muon__x2__s0') {
        expect([s.diverged, s.divergedAtStep, s.steps]).toEqual([true, 5, 5]);
      } else {
        expect(s.diverged).toBe(false);
        expect(s.steps).toBe(s.plannedSteps);
        expect(allFinite(runDir)).toBe(true);
      }
    }
  });
});
