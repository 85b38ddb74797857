/**
 * One writer per folder: a second holder is refused with one line naming the pid; a lock left by
 * a process that is gone (or an unreadable lock file) is taken over; runs and studies take it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { EnvironmentError } from '../../src/errors.js';
import { runStudy } from '../../src/study/study.js';
import { FolderInUse, LOCK_FILE, lockFolder } from '../../src/train/lock.js';
import { executeRun } from '../../src/train/run.js';
import { oneRun, tempDir, tinyMoe } from './fixtures.js';

const root = tempDir('lock');
let sleeper: ReturnType<typeof spawn>;
beforeAll(async () => {
  await initBackend();
  sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'ignore' });
});
afterAll(() => {
  sleeper.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

const folder = (name: string) => {
  const d = join(root, name);
  mkdirSync(d, { recursive: true });
  return d;
};
const fakeLock = (dir: string, pid: number) => writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid, host: hostname(), token: 'other' }));

describe('lockFolder', () => {
  it('a second holder is refused, naming the pid; after release the folder is free', () => {
    const dir = folder('twice');
    const first = lockFolder(dir, 'run folder');
    expect(() => lockFolder(dir, 'run folder')).toThrow(
      new FolderInUse(`${dir}: this run folder is in use by process ${process.pid} (lock file ${join(dir, LOCK_FILE)}); wait for it to finish or stop it, then rerun`),
    );
    first.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    lockFolder(dir).release();
  });

  it('a live other process holds it: refused with its pid (an EnvironmentError: exit status 1)', () => {
    const dir = folder('live');
    fakeLock(dir, sleeper.pid!);
    const err = (() => {
      try {
        lockFolder(dir, 'study folder');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(EnvironmentError);
    expect((err as Error).message).toContain(`in use by process ${sleeper.pid} `);
  });

  it('a lock whose process is gone is taken over; so is an unreadable lock file', () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout);
    const dir = folder('stale');
    fakeLock(dir, deadPid);
    const lock = lockFolder(dir);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    lock.release();
    writeFileSync(join(dir, LOCK_FILE), '{"pid": 12');
    lockFolder(dir).release();
  });

  it('a lock held on another host is never taken over by pid, even a pid that is free here (shared filesystems)', () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const dir = folder('other-host');
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: Number(dead.stdout), host: `not-${hostname()}`, token: 'remote' }));
    expect(() => lockFolder(dir, 'shard folder')).toThrow(`in use by process ${dead.stdout} on not-${hostname()} `);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).token).toBe('remote');
  });

  it('the lock file records this host and pid', () => {
    const dir = folder('record');
    const lock = lockFolder(dir);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    lock.release();
  });
});

describe('runs and studies take the lock', () => {
  it('executeRun on a folder another process holds: FolderInUse, nothing written', async () => {
    const dir = folder('run-held');
    fakeLock(dir, sleeper.pid!);
    await expect(executeRun(oneRun(tinyMoe, 'adamw', 0, { steps: 3 }), dir)).rejects.toThrow(FolderInUse);
    expect(existsSync(join(dir, 'metrics.jsonl'))).toBe(false);
    rmSync(join(dir, LOCK_FILE));
    await executeRun(oneRun(tinyMoe, 'adamw', 0, { steps: 3 }), dir);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false); // released at the end
  });

  it('runStudy on a study folder another process holds: FolderInUse naming the pid', async () => {
    const dir = folder('study-held');
    fakeLock(dir, sleeper.pid!);
    const study = {
      name: 'lock-study',
      description: 'x',
      tasks: [{ experiment: 'tiny-moe' }],
      baseline: 'adamw',
      treatment: 'muon',
      seeds: [0],
      tune: { grid: { adamw: [1e-3, 1e-2], muon: [0.01, 0.1] }, steps: 2 },
      stress: { multipliers: [1], steps: 2 },
    };
    await expect(runStudy(study, new Map([['tiny-moe', tinyMoe]]), dir, { workers: 1 })).rejects.toThrow(`in use by process ${sleeper.pid}`);
  });
});
