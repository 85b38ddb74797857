/**
 * Spec files outside the project, as a user keeps them: a `.ts` file with no module package above
 * it is refused with a line that says what to do, and doing exactly that (rename it to .mts, or put
 * a package.json with "type": "module" beside it) makes `run`, `tune`, `export` and `study --spec`
 * accept it. Child processes: the CommonJS/ESM distinction is Node's (with tsx), not vitest's.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isSpecPath } from '../../src/catalog/experiments.js';

const ROOT = join(import.meta.dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'opt-sandbox-specs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, OPT_SANDBOX_BACKEND: process.env['OPT_SANDBOX_BACKEND'] ?? 'cpu' },
  });
}

/** A spec that imports the sandbox, as experiments/*.ts do: the import is what breaks under CommonJS. */
const experiment = (name: string) => `import { defineExperiment } from ${JSON.stringify(join(ROOT, 'src', 'train', 'config.js'))};
export default defineExperiment({
  name: ${JSON.stringify(name)},
  description: 'a spec kept outside the project',
  data: { kind: 'regimes', clusters: 4 },
  model: { kind: 'moe', experts: 4, topK: 2, expertHidden: 8, activation: 'relu' },
  steps: 4, batchSize: 16, evalEvery: 4, evalSize: 64,
  schedule: { kind: 'constant' },
  optimizers: { adamw: { name: 'adamw', options: { learningRate: 1e-3 } }, muon: { name: 'muon', options: { learningRate: 0.02 } } },
  seeds: [0],
});
`;

const SLOW = 300_000;

describe('isSpecPath', () => {
  it('takes module files and anything with a folder as paths, bare words as catalog names', () => {
    for (const p of ['x.ts', 'x.mts', '/a/x.mts', './x.mjs', 'x.cts', 'dir/x']) expect(isSpecPath(p), p).toBe(true);
    for (const n of ['mnist-mlp', 'moe-regimes', 'stability']) expect(isSpecPath(n), n).toBe(false);
  });
});

describe('a spec file outside the project', () => {
  it('.ts with no module package: one line that says to rename it to .mts; renamed, it runs', () => {
    const dir = mkdtempSync(join(tmp, 'plain-'));
    const ts = join(dir, 'elsewhere.ts');
    writeFileSync(ts, experiment('elsewhere'));
    const refused = cli(['run', ts, '--out', join(dir, 'refused')]);
    expect(refused.status).toBe(2);
    const lines = refused.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: .*would load as CommonJS.*rename it to \.mts, or put a package\.json with \{"type": "module"\} in its folder/);
    expect(existsSync(join(dir, 'refused'))).toBe(false);

    // What the line says: rename it to .mts.
    const mts = join(dir, 'elsewhere.mts');
    renameSync(ts, mts);
    const out = join(dir, 'runs');
    const ran = cli(['run', mts, '--out', out, '--workers', '1']);
    expect(ran.status, ran.stderr.slice(-600)).toBe(0);
    for (const label of ['adamw', 'muon']) {
      const summary = JSON.parse(readFileSync(join(out, `elsewhere__${label}__s0`, 'summary.json'), 'utf8')) as { steps: number };
      expect(summary.steps).toBe(4);
    }
    // export takes the same path.
    const exported = cli(['export', mts, '--out', join(dir, 'export')]);
    expect(exported.status, exported.stderr.slice(-600)).toBe(0);
    expect(existsSync(join(dir, 'export', 'manifest.json'))).toBe(true);
  }, SLOW);

  it('.ts beside a package.json with "type": "module" (the other fix the line names): run and tune accept it', () => {
    const dir = mkdtempSync(join(tmp, 'module-'));
    writeFileSync(join(dir, 'package.json'), '{"type": "module"}\n');
    const ts = join(dir, 'beside.ts');
    writeFileSync(ts, experiment('beside'));
    const ran = cli(['run', ts, '--out', join(dir, 'runs'), '--workers', '1']);
    expect(ran.status, ran.stderr.slice(-600)).toBe(0);
    expect(existsSync(join(dir, 'runs', 'beside__muon__s0', 'summary.json'))).toBe(true);
    // tune gets as far as its own checks: the spec loads (an unknown name would say "unknown experiment").
    const record = join(dir, 'beside.json');
    const tuned = cli(['tune', ts, '--seeds', '1', '--workers', '1', '--out', join(dir, 'tune'), '--record', record]);
    expect(tuned.status, tuned.stderr.slice(-600)).toBe(0);
    expect(JSON.parse(readFileSync(record, 'utf8'))).toMatchObject({ experiment: 'beside' });
  }, SLOW);

  it('study --spec takes an .mts study file', () => {
    const dir = mkdtempSync(join(tmp, 'study-'));
    const spec = join(dir, 'tiny.mts');
    writeFileSync(
      spec,
      `export default {
        name: 'tiny-mts-study', description: 'a study file outside the project', tasks: [{ experiment: 'moe-regimes' }],
        baseline: 'adamw', treatment: 'muon', seeds: [0],
        tune: { grid: { adamw: [1e-3, 1e-2], muon: [0.01, 0.02] }, steps: 4 },
        stress: { multipliers: [1], steps: 4 }, batchSize: 16,
      };\n`,
    );
    const r = cli(['study', '--spec', spec, '--workers', '1', '--out', join(dir, 'out')]);
    expect(r.status, r.stderr.slice(-600)).toBe(0);
    expect(r.stderr).toContain('study tiny-mts-study');
    expect(existsSync(join(dir, 'out', 'study.json'))).toBe(true);
  }, SLOW);
});
