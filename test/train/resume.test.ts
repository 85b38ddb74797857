/**
 * Checkpoint and resume: a run that crashes after step k and is rerun continues from its last
 * checkpoint, and its metrics.jsonl and summary.json equal an uninterrupted run's number for number
 * (except the timings `ms` and `wallSeconds`), on wasm and on cpu. The crash is an exception thrown
 * from onRecord right after step k's line is written: no checkpoint at k, a line past the
 * checkpoint that the resume must cut off.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { readCheckpoint, CHECKPOINT_FILE } from '../../src/train/checkpoint.js';
import type { ExperimentSpec } from '../../src/train/config.js';
import type { StepRecord } from '../../src/train/loop.js';
import { executeRun, type RunSummary } from '../../src/train/run.js';
import { readJSON, readMetrics } from '../../src/train/run_files.js';
import { tf } from '../../src/tf.js';
import { oneRun, tempDir, tinyLm, tinyMlp, tinyMoe } from './fixtures.js';

const root = tempDir('resume');
afterAll(() => rmSync(root, { recursive: true, force: true }));

// The LM with per-token MoE blocks, bias balancing and a QK-clip threshold low enough to clip often:
// the checkpoint must carry every block's balancing state, and the replay the clip count.
const clippedLm: ExperimentSpec = {
  ...tinyLm,
  name: 'tiny-lm-clip',
  model: { ...tinyLm.model, moe: { experts: 4, expertHidden: 8, biasBalancing: true, biasUpdateRate: 0.05 } } as ExperimentSpec['model'],
  qkClip: { threshold: 0.5, alpha: 0.5 },
};
const biasBalancedMoe: ExperimentSpec = { ...tinyMoe, name: 'tiny-moe-bias', model: { ...tinyMoe.model, biasBalancing: true, biasUpdateRate: 0.05 } as ExperimentSpec['model'] };

/** metrics without the wall-clock field. */
function metricsOf(dir: string): Omit<StepRecord, 'ms'>[] {
  return readMetrics<StepRecord>(join(dir, 'metrics.jsonl')).map(({ ms: _ms, ...rest }) => rest);
}
function summaryOf(dir: string): Omit<RunSummary, 'wallSeconds'> {
  const { wallSeconds: _w, ...rest } = readJSON<RunSummary>(join(dir, 'summary.json'));
  return rest;
}

class SimulatedCrash extends Error {}

async function crashAfter(spec: ExperimentSpec, label: string, dir: string, steps: number, every: number, crashStep: number): Promise<void> {
  const config = oneRun(spec, label, 1, { steps });
  await expect(
    executeRun(config, dir, {
      checkpointEvery: every,
      onRecord: (r) => {
        if (r.step === crashStep) throw new SimulatedCrash(`crash after step ${crashStep}`);
      },
    }),
  ).rejects.toBeInstanceOf(SimulatedCrash);
}

for (const backend of ['wasm', 'cpu'] as const) {
  describe(`resume on ${backend}`, () => {
    // Muon on the MLP is the slowest case on cpu (Newton–Schulz on 784×32): wasm only.
    const cases: [string, ExperimentSpec, string][] = [
      ['MLP, AdamW', tinyMlp, 'adamw'],
      ...(backend === 'wasm' ? [['MLP, Muon', tinyMlp, 'muon'] as [string, ExperimentSpec, string]] : []),
      ['MoE with bias balancing, Muon', biasBalancedMoe, 'muon'],
      ...(backend === 'wasm' ? [['MoE LM with bias balancing and QK-clip, Muon', clippedLm, 'muon'] as [string, ExperimentSpec, string]] : []),
    ];
    for (const [name, spec, label] of cases) {
      it(`${name}: crash after step 14 (checkpoint at 12), rerun → the uninterrupted run's files`, async () => {
        await initBackend({ requested: backend });
        const steps = 30;
        const config = oneRun(spec, label, 1, { steps });
        const straight = join(root, `${backend}-${label}-${spec.name}-straight`);
        await executeRun(config, straight, { checkpointEvery: 4 });

        const killed = join(root, `${backend}-${label}-${spec.name}-killed`);
        await crashAfter(spec, label, killed, steps, 4, 14);
        expect(readMetrics(join(killed, 'metrics.jsonl'))).toHaveLength(14);
        expect(existsSync(join(killed, 'summary.json'))).toBe(false);
        expect(readCheckpoint(killed).step).toBe(12);

        const tensorsBefore = tf.memory().numTensors;
        const stepsRun: number[] = [];
        const warnings: string[] = [];
        await executeRun(config, killed, { checkpointEvery: 4, onRecord: (r) => stepsRun.push(r.step), warn: (l) => warnings.push(l) });
        expect(tf.memory().numTensors).toBe(tensorsBefore);
        expect(warnings).toEqual([]);
        expect(stepsRun).toEqual(Array.from({ length: steps - 12 }, (_, i) => 13 + i)); // resumed, not redone
        expect(metricsOf(killed)).toEqual(metricsOf(straight));
        expect(summaryOf(killed)).toEqual(summaryOf(straight));
        if (spec === clippedLm) expect(summaryOf(straight).headClips).toBeGreaterThan(0);
        // The final checkpoint stays and holds the trained weights.
        const finalCkpt = readCheckpoint(killed);
        expect(finalCkpt.step).toBe(steps);
        expect(finalCkpt.variables.map((v) => Array.from(v.data))).toEqual(readCheckpoint(straight).variables.map((v) => Array.from(v.data)));
        if (spec === biasBalancedMoe) expect(finalCkpt.model.map((t) => t.name)).toEqual(['selectionBias']);
      });
    }

    it('a run crashed twice resumes twice and still equals the uninterrupted run', async () => {
      await initBackend({ requested: backend });
      const config = oneRun(tinyMlp, 'adamw', 1, { steps: 30 });
      const straight = join(root, `${backend}-twice-straight`);
      await executeRun(config, straight, { checkpointEvery: 5 });
      const dir = join(root, `${backend}-twice`);
      await crashAfter(tinyMlp, 'adamw', dir, 30, 5, 7);
      await crashAfter(tinyMlp, 'adamw', dir, 30, 5, 23);
      expect(readCheckpoint(dir).step).toBe(20);
      await executeRun(config, dir, { checkpointEvery: 5 });
      expect(metricsOf(dir)).toEqual(metricsOf(straight));
      expect(summaryOf(dir)).toEqual(summaryOf(straight));
    });
  });
}

describe('what a rerun does with the files it finds', () => {
  it('a finished run is not redone', async () => {
    await initBackend();
    const config = oneRun(tinyMoe, 'adamw', 0, { steps: 6 });
    const dir = join(root, 'finished');
    const first = await executeRun(config, dir);
    let steps = 0;
    const again = await executeRun(config, dir, { onRecord: () => steps++ });
    expect(steps).toBe(0);
    expect(again).toEqual(JSON.parse(JSON.stringify(first)));
  });

  it('a damaged checkpoint: one warning, the run is redone from step 0 and matches', async () => {
    await initBackend();
    const config = oneRun(tinyMoe, 'adamw', 1, { steps: 12 });
    const straight = join(root, 'damaged-straight');
    await executeRun(config, straight, { checkpointEvery: 4 });
    const dir = join(root, 'damaged');
    await crashAfter(tinyMoe, 'adamw', dir, 12, 4, 9);
    const ckpt = readFileSync(join(dir, CHECKPOINT_FILE));
    ckpt[ckpt.length - 3] ^= 0xff; // one flipped byte in the tensor data
    writeFileSync(join(dir, CHECKPOINT_FILE), ckpt);
    const warnings: string[] = [];
    const stepsRun: number[] = [];
    await executeRun(config, dir, { checkpointEvery: 4, warn: (l) => warnings.push(l), onRecord: (r) => stepsRun.push(r.step) });
    expect(warnings).toEqual([`${join(dir, CHECKPOINT_FILE)} is damaged (checksum mismatch (truncated or altered)); redoing the run from step 0`]);
    expect(stepsRun[0]).toBe(1);
    expect(metricsOf(dir)).toEqual(metricsOf(straight));
    expect(summaryOf(dir)).toEqual(summaryOf(straight));
  });

  it('metrics.jsonl shorter than its checkpoint: one warning, redone from step 0', async () => {
    await initBackend();
    const config = oneRun(tinyMoe, 'adamw', 1, { steps: 12 });
    const dir = join(root, 'short-metrics');
    await crashAfter(tinyMoe, 'adamw', dir, 12, 4, 9);
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n');
    writeFileSync(join(dir, 'metrics.jsonl'), `${lines.slice(0, 5).join('\n')}\n{"step":6,"lo`);
    const warnings: string[] = [];
    const summary = await executeRun(config, dir, { checkpointEvery: 4, warn: (l) => warnings.push(l) });
    expect(warnings).toEqual([`${join(dir, 'metrics.jsonl')} does not hold the 8 lines its checkpoint covers; redoing the run from step 0`]);
    expect(summary.steps).toBe(12);
    expect(readMetrics(join(dir, 'metrics.jsonl'))).toHaveLength(12);
  });
});
