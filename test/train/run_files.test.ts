/** Run directories: config.json, metrics.jsonl, summary.json, interruption, torn lines, reruns. */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentBackend, initBackend } from '../../src/backend.js';
import { tf } from '../../src/tf.js';
import type { StepRecord } from '../../src/train/loop.js';
import { completedSummary, configHash, executeRun, runDirName, type RunSummary } from '../../src/train/run.js';
import { readJSON, readMetrics, toJSONLine, writeJSONAtomic } from '../../src/train/run_files.js';
import { oneRun, tempDir, tinyMlp, tinyMoe } from './fixtures.js';

const dirs: string[] = [];
function newDir(label: string): string {
  const d = tempDir(label);
  dirs.push(d);
  return d;
}

beforeAll(async () => {
  await initBackend();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('executeRun', () => {
  it('writes config.json, one metrics line per step and a complete summary.json', async () => {
    const config = oneRun(tinyMlp, 'muon', 2, { steps: 12 });
    const dir = join(newDir('run'), runDirName(config));
    const returned = await executeRun(config, dir);
    expect(readdirSync(dir).sort()).toEqual(['checkpoint.bin', 'config.json', 'metrics.jsonl', 'summary.json']);

    const cfg = readJSON<Record<string, unknown>>(join(dir, 'config.json'));
    expect(cfg['backend']).toBe(currentBackend().name);
    expect((cfg['provenance'] as Record<string, unknown>)['tfjs']).toBe(tf.version.tfjs);
    expect((cfg['provenance'] as Record<string, unknown>)['node']).toBe(process.version);
    expect(cfg['seed']).toBe(2);
    expect(cfg['configHash']).toBe(configHash(config));
    expect(cfg['configHash']).toMatch(/^[0-9a-f]{16}$/);
    expect(cfg['steps']).toBe(12);
    expect(cfg['optimizer']).toEqual(JSON.parse(JSON.stringify(config.optimizer)));
    expect(cfg['parameters']).toBe(784 * 32 + 32 + 32 * 10 + 10);
    expect(Object.values(cfg['routing'] as Record<string, string>).sort()).toEqual(['adamw', 'adamw', 'adamw', 'muon']);

    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n');
    expect(lines.pop()).toBe(''); // ends with a newline
    expect(lines).toHaveLength(12);
    const parsed = lines.map((l) => JSON.parse(l) as StepRecord);
    expect(parsed.map((r) => r.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    for (const r of parsed) {
      expect(typeof r.loss).toBe('number');
      expect(typeof r.gradNorm).toBe('number');
      expect(typeof r.lr).toBe('number');
      expect(typeof r.ms).toBe('number');
      expect(Object.keys(r.updateRms).sort()).toEqual(['adamw', 'muon']);
    }

    const summary = readJSON<RunSummary>(join(dir, 'summary.json'));
    expect(summary).toEqual(JSON.parse(JSON.stringify(returned)));
    expect(summary.experiment).toBe('tiny-mlp');
    expect(summary.optimizer).toBe('muon');
    expect(summary.optimizerName).toBe('muon');
    expect(summary.seed).toBe(2);
    expect(summary.steps).toBe(12);
    expect(summary.plannedSteps).toBe(12);
    const losses = parsed.map((r) => r.loss);
    expect(summary.finalLoss).toBeCloseTo(losses.slice(-10).reduce((a, b) => a + b, 0) / 10, 6);
    expect(summary.minLoss).toBe(Math.min(...losses));
    expect(summary.initialLoss).toBe(losses[0]);
    expect(summary.evalLoss).toBe(parsed[11]!.evalLoss);
    expect(summary.evalAcc).toBe(parsed[11]!.evalAcc);
    expect(summary.evalAcc!).toBeGreaterThan(0);
    expect(Object.keys(summary.spikes).sort()).toEqual(['gradnorm', 'median', 'zscore']);
    for (const n of Object.values(summary.spikes)) expect(Number.isInteger(n) && n >= 0).toBe(true);
    expect(Object.keys(summary.spikeDetails).sort()).toEqual(['gradnorm', 'median', 'zscore']);
    expect(summary.diverged).toBe(false);
    expect(summary.divergedAtStep).toBeNull();
    expect(summary.interrupted).toBe(false);
    expect(summary.wallSeconds).toBeGreaterThan(0);
    expect(summary.backend).toBe(currentBackend().name);
    expect(summary.configHash).toBe(configHash(config));
  });

  it('a regression (MoE) run has no evalAcc in its summary', async () => {
    const config = oneRun(tinyMoe, 'adamw', 0, { steps: 4 });
    const dir = newDir('moe');
    const summary = await executeRun(config, dir);
    expect('evalAcc' in summary).toBe(false);
    expect('evalAcc' in readJSON<object>(join(dir, 'summary.json'))).toBe(false);
    expect(summary.evalLoss).toBeGreaterThan(0);
    const metrics = readMetrics<StepRecord>(join(dir, 'metrics.jsonl'));
    expect(metrics).toHaveLength(4);
    expect(metrics[0]!.expertLoad).toHaveLength(4);
  });

  it('an interrupted run leaves k valid metrics lines and no summary.json (removing a stale one)', async () => {
    const dir = newDir('interrupt');
    const config = oneRun(tinyMlp, 'adamw', 0, { steps: 10 });
    await executeRun({ ...config, steps: 3 }, dir); // an earlier, finished run in the same folder
    expect(existsSync(join(dir, 'summary.json'))).toBe(true);

    let seen = 0;
    const summary = await executeRun(config, dir, {
      onRecord: () => {
        seen += 1;
      },
      shouldStop: () => seen >= 4,
    });
    expect(summary.interrupted).toBe(true);
    expect(summary.diverged).toBe(false);
    expect(summary.steps).toBe(4);
    expect(existsSync(join(dir, 'summary.json'))).toBe(false);
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines.map((l) => (JSON.parse(l) as StepRecord).step)).toEqual([1, 2, 3, 4]);
    expect(completedSummary(dir, config)).toBeUndefined();
    // config.json describes the interrupted run, not the earlier one.
    expect(readJSON<{ configHash: string }>(join(dir, 'config.json')).configHash).toBe(configHash(config));
  });
});

describe('completedSummary', () => {
  it('returns the summary only for the same config', async () => {
    const dir = newDir('completed');
    const config = oneRun(tinyMlp, 'adamw', 1, { steps: 3 });
    expect(completedSummary(dir, config)).toBeUndefined(); // nothing there yet
    const summary = await executeRun(config, dir);
    expect(completedSummary(dir, config)).toEqual(JSON.parse(JSON.stringify(summary)));
    // An equal config built separately (same content, fresh objects) matches too.
    expect(completedSummary(dir, oneRun(tinyMlp, 'adamw', 1, { steps: 3 }))).toBeDefined();
    expect(completedSummary(dir, { ...config, seed: 2 })).toBeUndefined();
    expect(completedSummary(dir, { ...config, steps: 4 })).toBeUndefined();
    expect(completedSummary(dir, { ...config, lrScale: 2 })).toBeUndefined();
    expect(completedSummary(dir, oneRun(tinyMlp, 'adamw', 1, { steps: 3, lr: { '*': 0.1 } }))).toBeUndefined();
    writeFileSync(join(dir, 'summary.json'), '{"configHash": ');
    expect(completedSummary(dir, config)).toBeUndefined(); // corrupt → rerun
  });

  it('configHash ignores key order and changes with any value', () => {
    const config = oneRun(tinyMlp, 'muon', 0);
    const reordered = Object.fromEntries(Object.entries(config).reverse()) as typeof config;
    expect(configHash(reordered)).toBe(configHash(config));
    expect(configHash({ ...config, batchSize: 33 })).not.toBe(configHash(config));
    expect(configHash({ ...config, model: { ...config.model, activation: 'tanh' } as typeof config.model })).not.toBe(
      configHash(config),
    );
  });

  it('run directory names carry experiment, label, seed and a non-default lrScale', () => {
    const config = oneRun(tinyMlp, 'muon', 3);
    expect(runDirName(config)).toBe('tiny-mlp__muon__s3');
    expect(runDirName({ ...config, lrScale: 4 })).toBe('tiny-mlp__muon-x4__s3');
  });
});

describe('metrics files', () => {
  it('readMetrics skips a torn last line but rejects a malformed line in the middle', () => {
    const dir = newDir('torn');
    const path = join(dir, 'metrics.jsonl');
    const good = [1, 2, 3].map((step) => toJSONLine({ step, loss: step / 10 }));
    writeFileSync(path, `${good.join('\n')}\n{"step": 4, "lo`);
    expect(readMetrics(path)).toEqual([1, 2, 3].map((step) => ({ step, loss: step / 10 })));
    writeFileSync(path, `${good.join('\n')}\n`);
    expect(readMetrics(path)).toHaveLength(3);
    writeFileSync(path, `${good[0]}\n{"step": 2, "lo\n${good[2]}\n`);
    expect(() => readMetrics(path)).toThrow(/malformed line/);
  });

  it('non-finite numbers are written as null (JSON has no NaN)', () => {
    expect(toJSONLine({ a: NaN, b: Infinity, c: -Infinity, d: 1.5, e: [NaN, 2] })).toBe('{"a":null,"b":null,"c":null,"d":1.5,"e":[null,2]}');
    const dir = newDir('atomic');
    const path = join(dir, 'x.json');
    writeJSONAtomic(path, { loss: NaN, ok: 1 });
    expect(readJSON(path)).toEqual({ loss: null, ok: 1 });
    expect(readdirSync(dir)).toEqual(['x.json']); // no temp file left behind
  });
});
