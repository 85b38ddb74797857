/**
 * `sandbox calibrate` end to end on the cheap MoE regression task: it runs the planned clean and
 * injected runs, prints the detector table and the chosen thresholds, writes calibration.json, and
 * a rerun resumes (every run already complete). Bad flags are one-line usage errors.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { main } from '../../src/cli/main.js';
import { CALIBRATION_FILE } from '../../src/study/calibrate.js';
import type { CalibrationResult } from '../../src/study/calibration.js';
import { readJSON } from '../../src/train/run_files.js';

let tmp: string;
let err: string[];
let out: string[];
beforeAll(async () => {
  await initBackend();
  tmp = mkdtempSync(join(tmpdir(), 'opt-sandbox-calibrate-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeEach(() => {
  err = [];
  out = [];
  const push = (into: string[]) => (...args: unknown[]) => void into.push(...args.map(String).join(' ').split('\n'));
  vi.spyOn(console, 'error').mockImplementation(push(err));
  vi.spyOn(console, 'log').mockImplementation(push(out));
  vi.spyOn(process.stderr, 'write').mockImplementation(((chunk: unknown) => {
    err.push(...String(chunk).split('\n'));
    return true;
  }) as typeof process.stderr.write);
});
afterEach(() => vi.restoreAllMocks());

describe('calibrate', () => {
  it('runs, prints the table and the chosen thresholds, writes calibration.json, and resumes', async () => {
    const dir = join(tmp, 'moe');
    const argv = ['calibrate', 'moe-regimes', '--seeds', '1', '--steps', '150', '--workers', '1', '--out', dir];
    expect(await main(argv)).toBe(0);
    expect(readdirSync(dir).filter((d) => d.startsWith('calib__')).sort()).toEqual([
      'calib__moe-regimes__adamw__clean__s10000',
      'calib__moe-regimes__adamw__inj__s11000',
      'calib__moe-regimes__muon__clean__s10000',
      'calib__moe-regimes__muon__inj__s11000',
    ]);
    const result = readJSON<CalibrationResult>(join(dir, CALIBRATION_FILE));
    expect(result.choices.map((c) => c.detector)).toEqual(['median', 'zscore', 'gradnorm']);
    expect(result.detectors).toHaveLength(3);
    // Two injections of each kind per injected run, both optimizers: 8, each scored or unreached
    // (a 10× LR step can diverge Muon's run on this task).
    for (const r of result.rows) expect(r.detection.injected + r.unreached).toBe(8);
    const text = out.join('\n');
    expect(text).toMatch(/\| detector \| setting .*FP\/1k adamw \| FP\/1k muon \|/);
    expect(text).toContain('Threshold rule:');
    expect(text).toContain('Pre-registration rule:');
    // The rerun runs nothing and prints the same table.
    out.length = 0;
    err.length = 0;
    expect(await main(argv)).toBe(0);
    expect(err.join('\n')).toMatch(/0 runs to do, 4 already complete/);
    expect(out.join('\n')).toBe(text);
  }, 120_000);

  it.each([
    [['--steps', '100'], /--steps 100: at least 150/],
    [['--seeds', '0'], /--seeds "0": expected a positive integer/],
    [['--lr-factor', '-2'], /--lr-factor "-2"/],
    [['--study', 'nope'], /unknown study "nope"/],
  ])('%j is a one-line usage error and writes nothing', async (flags, message) => {
    const dir = join(tmp, `bad-${Math.random().toString(36).slice(2)}`);
    expect(await main(['calibrate', 'moe-regimes', ...flags, '--out', dir])).toBe(2);
    const lines = err.filter((l) => l.trim() !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(existsSync(dir)).toBe(false);
  });
});
