/**
 * `slurm study --dry-run` end to end through the CLI: the cost estimate per phase, the scripts
 * chained as the docs say (tuning, one stress array per ladder round, arms; finish), each running the sandbox with the
 * study flags it was given, and nothing submitted. Bad flags are one line and exit 2.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { tempDir } from '../train/fixtures.js';

const root = tempDir('slurm-cli');
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function capture(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  try {
    return { code: await main(argv), out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

describe('slurm study --dry-run', () => {
  it('prints the estimate per phase, writes the scripts (a stress array per ladder round), submits nothing', async () => {
    const out = join(root, 'study');
    const r = await capture(['slurm', 'study', '--quick', '--tasks', '3', '--out', out, '--cpus-per-task', '2', '--time', '00:30:00', '--dry-run']);
    expect(r.code, r.err).toBe(0);
    for (const phase of ['tune', 'stress', 'arms']) expect(r.out).toMatch(new RegExp(`${phase}: \\d+ runs, .* in all, longest task .* with --tasks 3`));
    expect(r.out).toContain('dry run: nothing submitted');
    expect(existsSync(join(out, 'slurm', 'jobs.json'))).toBe(false);
    for (const phase of ['tune', 'stress', 'arms']) {
      const text = readFileSync(join(out, 'slurm', `${phase}.sh`), 'utf8');
      expect(text).toContain('#SBATCH --array=0-2');
      expect(text).toContain('#SBATCH --cpus-per-task=2');
      expect(text).toContain(`src/cli/main.ts slurm task ${phase} --out ${out} --tasks 3 --quick --workers "\${SLURM_CPUS_PER_TASK:-1}" &`);
    }
    // The quick study's ladder (cap 4: rungs 1, 2, 4): one stress array per round, each after the one before.
    for (const round of [1, 2]) {
      const text = readFileSync(join(out, 'slurm', `stress-r${round}.sh`), 'utf8');
      expect(text).toContain(`#SBATCH --job-name=sandbox-stress-r${round}`);
      expect(text).toContain(`src/cli/main.ts slurm task stress --out ${out} --tasks 3 --quick --round ${round} --workers "\${SLURM_CPUS_PER_TASK:-1}" &`);
    }
    expect(existsSync(join(out, 'slurm', 'stress-r3.sh'))).toBe(false);
    expect(r.out).toContain(`scripts: ${['tune', 'stress', 'stress-r1', 'stress-r2', 'arms', 'finish'].map((n) => join(out, 'slurm', `${n}.sh`)).join(', ')}`);
    expect(readFileSync(join(out, 'slurm', 'finish.sh'), 'utf8')).toContain(`src/cli/main.ts slurm finish --out ${out} --tasks 3 --quick &`);
  });

  it('a bad --tasks or --time: one line, exit 2, no scripts', async () => {
    const out = join(root, 'bad');
    const a = await capture(['slurm', 'study', '--quick', '--tasks', 'two', '--out', out, '--dry-run']);
    expect(a.code).toBe(2);
    expect(a.err).toBe('error: --tasks "two": expected a positive integer');
    const b = await capture(['slurm', 'study', '--quick', '--tasks', '2', '--time', 'soon', '--out', out, '--dry-run']);
    expect(b.code).toBe(2);
    expect(b.err).toBe('error: --time soon: expected HH:MM:SS (or D-HH:MM:SS, or minutes)');
    expect(existsSync(join(out, 'slurm'))).toBe(false);
  });
});

describe('slurm run-task', () => {
  it('an --index beyond the runs: one line naming the run count (run-task has no --tasks), exit 2', async () => {
    const out = join(root, 'run-task');
    const r = await capture(['slurm', 'run-task', 'moe-regimes', '--quick', '--seeds', '1,', '--optimizers', 'adamw', '--out', out, '--index', '3']);
    expect(r.code).toBe(2);
    expect(r.err).toBe('error: --index = "3": expected an integer in 0..0 (1 run, one array task each)');
    expect(existsSync(out)).toBe(false);
  });
});
