/**
 * Real kill -9 of the CLI, then the same command again: every run's metrics.jsonl and summary.json
 * equal an uninterrupted execution's, number for number (except `ms` and `wallSeconds`). Kills come
 * from outside (SIGKILL sent by this test at a random moment while the runs train) and from the
 * OPT_SANDBOX_FAULTS test hook (`kill@K`: the process SIGKILLs itself right after step K's line).
 * Ctrl-C (SIGINT) and SIGTERM stop the runs after their current step, and a rerun resumes them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'opt-sandbox-kill-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const env = (faults?: string) => ({
  ...process.env,
  OPT_SANDBOX_BACKEND: process.env['OPT_SANDBOX_BACKEND'] ?? 'wasm',
  OPT_SANDBOX_FAULTS: faults ?? '',
});

function cli(args: string[], faults?: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: env(faults) });
}

/** Every run folder below `dir` → its metrics (without ms) and summary (without wallSeconds). */
function results(dir: string): Record<string, { metrics: unknown[]; summary: unknown }> {
  const out: Record<string, { metrics: unknown[]; summary: unknown }> = {};
  const visit = (d: string) => {
    if (existsSync(join(d, 'summary.json'))) {
      const metrics = readFileSync(join(d, 'metrics.jsonl'), 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => {
          const { ms: _ms, ...rest } = JSON.parse(l) as Record<string, unknown>;
          return rest;
        });
      const { wallSeconds: _w, ...summary } = JSON.parse(readFileSync(join(d, 'summary.json'), 'utf8')) as Record<string, unknown>;
      out[d.slice(dir.length)] = { metrics, summary };
      return;
    }
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) visit(join(d, e.name));
  };
  visit(dir);
  return out;
}

const RUN_ARGS = ['run', 'moe-regimes', '--quick', '--steps', '80', '--seeds', '1,', '--optimizers', 'adamw,muon', '--checkpoint-every', '10'];
/** Child processes on a shared 2-core machine: generous limits, the work itself is a few seconds. */
const SLOW = 300_000;

describe('kill -9 and rerun', () => {
  const straight = join(tmp, 'straight');
  it('uninterrupted reference run', () => {
    const r = cli([...RUN_ARGS, '--out', straight]);
    expect(r.status).toBe(0);
    expect(Object.keys(results(straight))).toHaveLength(2);
  }, SLOW);

  it('SIGKILL from outside at a random moment (2 workers), rerun → the same files', async () => {
    const dir = join(tmp, 'outside');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...RUN_ARGS, '--workers', '2', '--out', dir], {
      cwd: ROOT,
      env: env(),
      stdio: 'ignore',
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    // Kill once some run has written between 5 and 75 lines (a random target).
    const target = 5 + Math.floor(Math.random() * 70);
    const lines = () => {
      if (!existsSync(dir)) return 0;
      return Math.max(0, ...readdirSync(dir).map((d) => {
        const p = join(dir, d, 'metrics.jsonl');
        return existsSync(p) ? readFileSync(p, 'utf8').split('\n').length - 1 : 0;
      }));
    };
    while (lines() < target && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    const signal = await exited;
    if (signal !== 'SIGKILL') console.warn(`the runs finished before the kill (target ${target} lines)`);
    const again = cli([...RUN_ARGS, '--workers', '2', '--out', dir]);
    expect(again.status).toBe(0);
    expect(results(dir)).toEqual(results(straight));
  }, SLOW);
});

describe('a resumed run says so', () => {
  it('kill@35 in the second run (one worker), rerun in worker threads → one line naming the run, its step and the steps left; the same files', () => {
    const dir = join(tmp, 'announced');
    expect(cli([...RUN_ARGS, '--workers', '1', '--out', dir], 'kill@35:moe-regimes__muon__s1').signal).toBe('SIGKILL');
    // Two workers: the resume is reported from a worker thread, through the pool.
    const again = cli([...RUN_ARGS, '--workers', '2', '--out', dir]);
    expect(again.status, again.stderr.slice(-400)).toBe(0);
    const lines = again.stderr.split('\n');
    // adamw finished before the kill: counted as complete, not resumed; muon resumes from its checkpoint at step 30.
    expect(lines.some((l) => /^2 runs → .* \(backend \w+, 2 workers\); 1 already complete$/.test(l)), again.stderr).toBe(true);
    expect(lines.filter((l) => l.startsWith('resuming '))).toEqual(['resuming moe-regimes__muon__s1 from step 30 of 80 (50 steps to go)']);
    expect(results(dir)).toEqual(results(join(tmp, 'straight')));
  }, SLOW);
});

describe('a study killed twice', () => {
  const spec = join(tmp, 'tiny-study.ts');
  writeFileSync(
    spec,
    `export default {
      name: 'tiny-kill-study', description: 'kill test', tasks: [{ experiment: 'moe-regimes' }],
      baseline: 'adamw', treatment: 'muon', seeds: [1],
      tune: { grid: { adamw: [1e-3, 1e-2], muon: [0.01, 0.1] }, steps: 30 },
      stress: { multipliers: [1, 4], steps: 50 }, batchSize: 32,
    };\n`,
  );
  const args = (out: string) => ['study', '--spec', spec, '--workers', '1', '--checkpoint-every', '7', '--out', out];

  it('kill in tuning, kill in stress, rerun → the uninterrupted study, run for run', () => {
    const straight = join(tmp, 'study-straight');
    expect(cli(args(straight)).status).toBe(0);
    const dir = join(tmp, 'study-killed');
    expect(cli(args(dir), 'kill@23:tune__moe-regimes__muon__lr0.1__s1').signal).toBe('SIGKILL');
    const second = cli(args(dir), 'kill@45:stress__moe-regimes__adamw__x4__s1');
    expect(second.signal).toBe('SIGKILL');
    // Checkpoints every 7 steps: the tuning run killed after step 23 resumes from step 21, the stress run killed after 45 from 42.
    const resumed = (r: { stderr: string }) => r.stderr.split('\n').filter((l) => l.startsWith('resuming '));
    expect(resumed(second)).toEqual(['resuming tune__moe-regimes__muon__lr0.1__s1 from step 21 of 30 (9 steps to go)']);
    const last = cli(args(dir));
    expect(last.status).toBe(0);
    expect(resumed(last)).toEqual(['resuming stress__moe-regimes__adamw__x4__s1 from step 42 of 50 (8 steps to go)']);
    const a = results(straight);
    expect(Object.keys(a)).toHaveLength(8);
    expect(results(dir)).toEqual(a);
  }, SLOW);
});

describe('Ctrl-C or SIGTERM stops after the current step', () => {
  // One worker trains in the main thread, two in worker threads: either way the loop must let the
  // signal (or the pool's stop message) in between steps, not only when a run ends.
  it.each([
    ['SIGINT', 1],
    ['SIGINT', 2],
    ['SIGTERM', 2],
  ] as const)('%s, --workers %i: stops the runs well before their planned steps, exit 130; rerun → the same files', async (signal, workers) => {
    const dir = join(tmp, `${signal}-${workers}`);
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...RUN_ARGS, '--workers', String(workers), '--out', dir], {
      cwd: ROOT,
      env: env(),
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // Metrics lines written so far by every run (one line per step).
    const lines = () =>
      existsSync(dir)
        ? readdirSync(dir)
            .map((d) => join(dir, d, 'metrics.jsonl'))
            .filter((p) => existsSync(p))
            .reduce((a, p) => a + readFileSync(p, 'utf8').split('\n').length - 1, 0)
        : 0;
    while (lines() < 5 && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    child.kill(signal);
    expect(await exited).toBe(130);
    // 2 runs × 80 steps planned. A stop seen only when a run ends leaves at least one whole run (80 lines) and its summary.
    expect(lines()).toBeLessThan(80);
    expect(readdirSync(dir).filter((d) => existsSync(join(dir, d, 'summary.json')))).toEqual([]);
    const again = cli([...RUN_ARGS, '--workers', String(workers), '--out', dir]);
    expect(again.status, again.stderr.slice(-400)).toBe(0);
    expect(results(dir)).toEqual(results(join(tmp, 'straight')));
  }, SLOW);
});
