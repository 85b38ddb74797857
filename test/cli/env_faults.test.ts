/**
 * Environment faults end a command within seconds with one line naming the path and the fix, and
 * the right exit status (2: bad output path; 1: the machine). Child processes, for the real status
 * and to catch hangs: `--out /proc/x` used to never return (Node's recursive mkdir loops on procfs).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'opt-sandbox-env-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}) {
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    // "Within seconds": a hang fails the test instead of stalling the suite.
    timeout: 30_000,
    env: { ...process.env, OPT_SANDBOX_BACKEND: process.env['OPT_SANDBOX_BACKEND'] ?? 'cpu', ...env },
  });
  const errors = res.stderr.split('\n').filter((l) => l.startsWith('error:'));
  return { status: res.status, signal: res.signal, errors, stderr: res.stderr };
}

describe('output path faults (regression: stack trace / hang)', () => {
  it('--out under a path that is a file: one line naming the file, exit 2', () => {
    const file = join(tmp, 'afile');
    writeFileSync(file, 'not a folder');
    const r = cli(['run', 'mnist-mlp', '--quick', '--out', join(file, 'sub')]);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(2);
    expect(r.errors).toEqual([`error: ${join(file, 'sub')}: ${file} is a file, not a folder; choose another --out folder or move the file`]);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('--out /proc/x: one line within seconds, exit 2, nothing created', () => {
    const r = cli(['study', '--quick', '--out', '/proc/x/y']);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(2);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatch(/^error: \/proc\/x\/y: \/proc is on the proc virtual file system.*--out$/);
    expect(existsSync('/proc/x')).toBe(false);
  });
});
