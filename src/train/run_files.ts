/**
 * Run directories: config.json (written first), metrics.jsonl (one JSON object per step, each line
 * written whole as the step ends, so an interrupted run leaves valid lines), summary.json (written
 * atomically: temp file + rename, so it is either absent or complete).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf } from '../tf.js';

export const CONFIG_FILE = 'config.json';
export const METRICS_FILE = 'metrics.jsonl';
export const SUMMARY_FILE = 'summary.json';

/** JSON has no NaN or Infinity: write them as null (pandas reads null as NaN). */
export function toJSONLine(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
}

export function writeJSONAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  renameSync(tmp, path);
}

export function readJSON<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** Parse metrics.jsonl, skipping a torn last line left by a kill mid-write. */
export function readMetrics<T = Record<string, unknown>>(path: string): T[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: T[] = [];
  for (const line of lines) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // Only the final line can be torn; anything else is real corruption worth surfacing.
      if (line !== lines[lines.length - 1] && line !== lines[lines.length - 2]) throw new Error(`${path}: malformed line`);
    }
  }
  return out;
}

export class MetricsWriter {
  private fd: number;
  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }
  append(record: unknown): void {
    writeSync(this.fd, `${toJSONLine(record)}\n`);
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

export function ensureDir(path: string): void {
  mkdirSync(path, { recursive: true });
}
