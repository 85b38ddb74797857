/**
 * The worker pool returns what a serial loop would: same summaries, in task order, and the same
 * files. Worker threads load their own tfjs with the parent's backend.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { openPool, RunFailure, runTasks, type RunTask } from '../../src/study/pool.js';
import type { StepRecord } from '../../src/train/loop.js';
import { runDirName, type RunSummary } from '../../src/train/run.js';
import { readMetrics } from '../../src/train/run_files.js';
import { oneRun, tempDir, tinyMlp, tinyMoe } from '../train/fixtures.js';

let root: string;
beforeAll(async () => {
  await initBackend();
  root = tempDir('pool');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const configs = [
  oneRun(tinyMlp, 'adamw', 0, { steps: 12 }),
  oneRun(tinyMlp, 'muon', 1, { steps: 12 }),
  oneRun(tinyMoe, 'muon', 0, { steps: 12 }),
];

function tasks(sub: string): RunTask[] {
  return configs.map((config) => ({ config, dir: join(root, sub, runDirName(config)) }));
}

/** What must not depend on how runs were scheduled (everything but wall time). */
function comparable(s: RunSummary) {
  const { wallSeconds: _w, ...rest } = s;
  return rest;
}

describe('runTasks', () => {
  it('workers 2 gives the same summaries, in task order, and the same metrics as workers 1', async () => {
    const serialTasks = tasks('serial');
    const poolTasks = tasks('pool');
    const doneOrder: number[] = [];
    const progressed = new Set<number>();
    const serial = await runTasks(serialTasks, 1);
    const pooled = await runTasks(poolTasks, 2, {
      onDone: (_s, i) => doneOrder.push(i),
      onProgress: (i) => progressed.add(i),
    });
    expect(pooled).toHaveLength(3);
    expect(pooled.map((s) => [s.experiment, s.optimizer, s.seed])).toEqual(configs.map((c) => [c.experiment, c.label, c.seed]));
    expect(doneOrder.sort()).toEqual([0, 1, 2]);
    expect([...progressed].sort()).toEqual([0, 1, 2]);
    pooled.forEach((p, i) => {
      const s = serial[i]!;
      expect(p.finalLoss).toBe(s.finalLoss);
      expect(p.evalLoss).toBe(s.evalLoss);
      expect(p.spikes).toEqual(s.spikes);
      expect(comparable(p)).toEqual(comparable(s));
    });
    serialTasks.forEach((t, i) => {
      const strip = (dir: string) => readMetrics<StepRecord>(join(dir, 'metrics.jsonl')).map(({ ms: _ms, ...r }) => r);
      expect(strip(poolTasks[i]!.dir)).toEqual(strip(t.dir));
      const summaryKeys = Object.keys(JSON.parse(readFileSync(join(poolTasks[i]!.dir, 'summary.json'), 'utf8')) as object);
      expect(summaryKeys).toContain('configHash');
    });
  });

  it('a failing run in a worker rejects with a RunFailure naming the run', async () => {
    // A data spec the loader rejects at run time (batch larger than the training set).
    const bad = { ...configs[0]!, batchSize: 100_000 };
    const t: RunTask[] = [
      { config: bad, dir: join(root, 'fail', 'a') },
      { config: configs[1]!, dir: join(root, 'fail', 'b') },
    ];
    const failure = await runTasks(t, 2).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(RunFailure);
    expect((failure as Error).message).toMatch(/run .*fail.*a failed: .*batchSize/);
  });

  it('a pool runs several batches on the same workers, each like a fresh serial run', async () => {
    const serial = await runTasks(tasks('reuse-serial'), 1);
    const pool = openPool(2);
    try {
      const first = await pool.run(tasks('reuse-1').slice(0, 2));
      const second = await pool.run(tasks('reuse-2'));
      expect(first.map(comparable)).toEqual(serial.slice(0, 2).map(comparable));
      expect(second.map(comparable)).toEqual(serial.map(comparable));
    } finally {
      await pool.close();
    }
  });

  it('warm-up runs go to every worker, below their own folders, and are not reported', async () => {
    const started: number[] = [];
    const warm: RunTask = { config: configs[2]!, dir: join(root, 'warm', 'warmup') };
    const out = await runTasks(tasks('warm').slice(0, 2), 2, { onStart: (_t, i) => started.push(i) }, { warmup: [warm] });
    expect(out.map((s) => s.seed)).toEqual([configs[0]!.seed, configs[1]!.seed]);
    expect(started.sort()).toEqual([0, 1]);
    for (const w of ['worker0', 'worker1']) expect(existsSync(join(warm.dir, w, 'summary.json'))).toBe(true);
  });
});
