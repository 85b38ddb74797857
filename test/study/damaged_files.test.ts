/**
 * Damaged run files never crash a table and are never counted: a corrupt summary.json shows the
 * run as unfinished (view) or missing (merge), a corrupt config.json leaves it out, each with one
 * warning. merge refuses shards from different backends or git commits unless forced.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRuns } from '../../src/train/run_dirs.js';
import { mergeStudies } from '../../src/study/merge.js';
import { summaryProblem } from '../../src/train/run_readers.js';
import { tempDir } from '../train/fixtures.js';

const root = tempDir('damaged');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const summary = (over: Record<string, unknown> = {}) => ({
  experiment: 'e', optimizer: 'adamw', optimizerName: 'adamw', seed: 0, lrScale: 1, steps: 3, plannedSteps: 3,
  finalLoss: 0.5, minLoss: 0.4, initialLoss: 1, evalLoss: 0.6, spikes: { median: 0 }, spikeDetails: {},
  diverged: false, divergedAtStep: null, interrupted: false, wallSeconds: 1, backend: 'wasm', configHash: 'abc', ...over,
});

function runFolder(dir: string, files: { config?: string; summary?: string; metrics?: string }): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), files.config ?? JSON.stringify({ experiment: 'e', label: 'adamw', lrScale: 1, provenance: { gitCommit: 'c1' } }));
  writeFileSync(join(dir, 'metrics.jsonl'), files.metrics ?? '{"step":1,"loss":1}\n{"step":2,"loss":0.8}\n{"step":3,"loss":0.5}\n');
  if (files.summary !== undefined) writeFileSync(join(dir, 'summary.json'), files.summary);
  return dir;
}

describe('view of damaged runs', () => {
  it('corrupt summary → unfinished; corrupt config or metrics → left out; one warning each', () => {
    const ok = runFolder(join(root, 'v', 'ok'), { summary: JSON.stringify(summary()) });
    const emptySummary = runFolder(join(root, 'v', 'empty'), { summary: '' });
    const wrongSummary = runFolder(join(root, 'v', 'wrong'), { summary: JSON.stringify(summary({ steps: 'many' })) });
    const badConfig = runFolder(join(root, 'v', 'config'), { config: '{"experi', summary: JSON.stringify(summary()) });
    const badMetrics = runFolder(join(root, 'v', 'metrics'), { metrics: '{"step":1}\n{"st\n{"step":3}\n' });
    const warnings: string[] = [];
    const runs = loadRuns([ok, emptySummary, wrongSummary, badConfig, badMetrics], (l) => warnings.push(l));
    expect(runs.map((r) => [r.dir, r.summary !== undefined])).toEqual([[ok, true], [emptySummary, false], [wrongSummary, false]]);
    expect(warnings).toEqual([
      `${join(emptySummary, 'summary.json')} is damaged (not valid JSON (empty or truncated?)); shown as unfinished`,
      `${join(wrongSummary, 'summary.json')} is damaged ("steps" is not a count); shown as unfinished`,
      expect.stringMatching(/^.*config\/config\.json is damaged \(.*\); run left out$/),
      `${join(badMetrics, 'metrics.jsonl')}: malformed line 2; run left out`,
    ]);
  });

  it('summaryProblem accepts a summary and names the first bad field', () => {
    expect(summaryProblem(summary())).toBeUndefined();
    expect(summaryProblem(null)).toBe('not a JSON object');
    expect(summaryProblem(summary({ diverged: 'no' }))).toBe('"diverged" or "interrupted" is not a boolean');
    expect(summaryProblem(summary({ steps: 9 }))).toBe('"steps" exceeds "plannedSteps"');
    expect(summaryProblem(summary({ spikes: { median: -1 } }))).toBe('"spikes" is not a map of counts');
  });
});

describe('merge', () => {
  const study = JSON.stringify({ spec: { name: 's' }, experiments: {} });
  function shard(name: string, runs: Record<string, { backend?: string; commit?: string; summary?: string }>): string {
    const dir = join(root, name);
    mkdirSync(join(dir, 'runs'), { recursive: true });
    writeFileSync(join(dir, 'study.json'), study);
    for (const [run, o] of Object.entries(runs)) {
      runFolder(join(dir, 'runs', run), {
        config: JSON.stringify({ experiment: 'e', label: 'adamw', provenance: { gitCommit: o.commit ?? 'c1' } }),
        summary: o.summary ?? JSON.stringify(summary({ backend: o.backend ?? 'wasm' })),
      });
    }
    return dir;
  }

  it('refuses different backends or commits unless --force', () => {
    const a = shard('m-a', { r1: {} });
    const cpu = shard('m-cpu', { r2: { backend: 'cpu' } });
    const newer = shard('m-newer', { r3: { commit: 'c2' } });
    expect(() => mergeStudies([a, cpu], join(root, 'm-out1'))).toThrow(/different backends \(wasm in .*m-a, cpu in .*m-cpu\).*--force$/);
    expect(() => mergeStudies([a, newer], join(root, 'm-out2'))).toThrow(/different code versions \(git commits c1 in .*m-a, c2 in .*m-newer\).*--force$/);
    expect(mergeStudies([a, cpu], join(root, 'm-out3'), { force: true }).copied).toBe(2);
  });

  it('a damaged summary counts as unfinished, with a warning', () => {
    const a = shard('d-a', { r1: {}, r2: { summary: '{"experiment": "e", "opt' } });
    const warnings: string[] = [];
    const r = mergeStudies([a], join(root, 'd-out'), { warn: (l) => warnings.push(l) });
    expect(r).toEqual({ copied: 1, duplicates: 0, unfinishedSkipped: 1 });
    expect(warnings).toEqual([`${join(a, 'runs', 'r2', 'summary.json')} is damaged (not valid JSON (empty or truncated?)); the run counts as unfinished`]);
  });
});
