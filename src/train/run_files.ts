/**
 * Run directories: config.json (written first), metrics.jsonl (one JSON object per step, each line
 * written whole as the step ends, so an interrupted run leaves valid lines), summary.json (written
 * atomically: temp file + rename, so it is either absent or complete).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, statfsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { asOneLineError, OutputPathError } from '../errors.js';
import { tf } from '../tf.js';

export const CONFIG_FILE = 'config.json';
export const METRICS_FILE = 'metrics.jsonl';
export const SUMMARY_FILE = 'summary.json';

/** JSON has no NaN or Infinity: write them as null (pandas reads null as NaN). */
export function toJSONLine(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
}

/**
 * Every write to a run file goes through here: the seam tests use to inject a full disk (ENOSPC)
 * or another write error at a chosen write, without touching the real file system.
 */
export const fileIO = {
  writeSync: (fd: number, data: Uint8Array): number => fs.writeSync(fd, data, 0, data.length),
};

/** Write all of `data` to `fd` (writeSync may write less than asked). */
function writeAll(fd: number, data: string | Uint8Array): void {
  let buf: Uint8Array = typeof data === 'string' ? Buffer.from(data) : data;
  while (buf.length > 0) {
    const n = fileIO.writeSync(fd, buf);
    buf = buf.subarray(n);
  }
}

/**
 * Write a file so that it is either absent, the old version, or complete: a temp file is written
 * (and with `durable`, flushed to disk) and renamed over the target. On failure (e.g. a full disk) the temp file is
 * removed and the error rethrown as a one-line error naming the path.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, options: { durable?: boolean; tmpSuffix?: string } = {}): void {
  // The temp name must be unique to the writer: per process by default; a lock takeover, where
  // processes race on one path, passes its own token.
  const tmp = `${path}.${options.tmpSuffix ?? `tmp-${process.pid}`}`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeAll(fd, data);
      // The rename alone survives a killed process; fsync (≈ 10 ms here) also survives a power cut,
      // and is spent only where it matters most: the checkpoint.
      if (options.durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw asOneLineError(e, path);
  }
}

export function writeJSONAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
}

export function readJSON<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** Parse metrics.jsonl, skipping a torn last line left by a kill mid-write. */
export function readMetrics<T = Record<string, unknown>>(path: string): T[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  let lastNonEmpty = lines.length - 1;
  while (lastNonEmpty >= 0 && lines[lastNonEmpty]!.trim() === '') lastNonEmpty--;
  const out: T[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // Only the final line can be torn; anything else is real corruption worth surfacing.
      if (i !== lastNonEmpty) throw new Error(`${path}: malformed line ${i + 1}`);
    }
  });
  return out;
}

/**
 * Appends one line per step. `keepBytes` (resume) keeps that many bytes of an existing file — the
 * lines a checkpoint covers — and appends after them; otherwise the file starts empty.
 */
export class MetricsWriter {
  private fd: number;
  /** Bytes in the file so far: a checkpoint records it to truncate back to on resume. */
  bytes: number;
  lines = 0;
  constructor(
    readonly path: string,
    keep?: { bytes: number; lines: number },
  ) {
    try {
      if (keep) {
        fs.truncateSync(path, keep.bytes);
        this.fd = openSync(path, 'a');
      } else {
        this.fd = openSync(path, 'w');
      }
    } catch (e) {
      throw asOneLineError(e, path);
    }
    this.bytes = keep?.bytes ?? 0;
    this.lines = keep?.lines ?? 0;
  }
  append(record: unknown): void {
    const line = Buffer.from(`${toJSONLine(record)}\n`);
    try {
      writeAll(this.fd, line);
    } catch (e) {
      throw asOneLineError(e, this.path);
    }
    this.bytes += line.length;
    this.lines += 1;
  }
  /** Flush to disk, so a checkpoint never covers lines the disk does not hold. */
  sync(): void {
    try {
      fsyncSync(this.fd);
    } catch (e) {
      throw asOneLineError(e, this.path);
    }
  }
  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

let cachedProvenance: Record<string, string | null> | undefined;

/** Versions and git commit recorded in every config.json. */
export function provenance(): Record<string, string | null> {
  if (cachedProvenance) return cachedProvenance;
  let commit: string | null = null;
  let dirty: string | null = null;
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim()
      ? 'yes'
      : 'no';
  } catch {
    // Not a git checkout (e.g. an npm tarball): recorded as null.
  }
  const pkgPath = join(projectRoot, 'package.json');
  const pkg = existsSync(pkgPath) ? readJSON<{ name?: string; version?: string }>(pkgPath) : {};
  cachedProvenance = {
    package: pkg.name ?? null,
    packageVersion: pkg.version ?? null,
    tfjs: tf.version.tfjs,
    node: process.version,
    gitCommit: commit,
    gitDirty: dirty,
  };
  return cachedProvenance;
}

/** statfs magic numbers of Linux virtual file systems, which cannot hold result files. */
const VIRTUAL_FILE_SYSTEMS: Record<number, string> = {
  0x9fa0: 'proc',
  0x62656572: 'sysfs',
  0x64626720: 'debugfs',
  0x27e0eb: 'cgroup',
  0x63677270: 'cgroup2',
  0x73636673: 'securityfs',
  0x74726163: 'tracefs',
};

/**
 * Create a folder and its missing parents, failing with one line naming the path and the fix.
 * Not `mkdirSync(recursive)`: on /proc it never returns (Node 20 retries mkdir forever on the
 * ENOENT that procfs answers), and on a path through a file it throws a bare ENOTDIR.
 */
export function ensureDir(path: string): void {
  const target = resolve(path);
  const missing: string[] = [];
  let existing = target;
  for (;;) {
    let isDir: boolean;
    try {
      isDir = statSync(existing).isDirectory();
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw asOneLineError(e, existing);
      missing.push(existing);
      const parent = dirname(existing);
      if (parent === existing) throw new OutputPathError(`${target}: no existing parent folder`);
      existing = parent;
      continue;
    }
    if (!isDir) {
      throw new OutputPathError(`${target}: ${existing} is a file, not a folder; choose another --out folder or move the file`);
    }
    break;
  }
  let fsType: number | undefined;
  try {
    fsType = Number(statfsSync(existing).type);
  } catch {
    // statfs is unavailable on some platforms; mkdir below still reports what goes wrong.
  }
  const virtual = fsType === undefined ? undefined : VIRTUAL_FILE_SYSTEMS[fsType];
  if (virtual) {
    throw new OutputPathError(`${target}: ${existing} is on the ${virtual} virtual file system, which cannot hold files; choose a real folder with --out`);
  }
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir);
    } catch (e) {
      if ((e as { code?: string }).code === 'EEXIST' && statSync(dir).isDirectory()) continue;
      throw asOneLineError(e, dir);
    }
  }
  try {
    fs.accessSync(target, fs.constants.W_OK);
  } catch (e) {
    throw asOneLineError(e, target);
  }
}
