/** Parsing of the common flags into typed values; each bad value gets a one-line error naming the flag. */
import { resolve } from 'node:path';

export { UsageError } from '../errors.js';
import { UsageError } from '../errors.js';

export function parsePositiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`${flag} ${JSON.stringify(value)}: expected a positive integer`);
  }
  return n;
}

export const MAX_SEED_COUNT = 10_000;

/** "3" → seeds 0,1,2; "0,5,7" → exactly those seeds; "5," → seed 5 alone. */
export function parseSeeds(value: string): number[] {
  if (/^\d+$/.test(value.trim())) {
    const count = parsePositiveInt('--seeds', value);
    // A count is materialised as a list: a typo like 10000000000 must not exhaust memory.
    if (count > MAX_SEED_COUNT) throw new UsageError(`--seeds ${JSON.stringify(value)}: at most ${MAX_SEED_COUNT} seeds`);
    return Array.from({ length: count }, (_, i) => i);
  }
  const parts = value
    .split(',')
    .map((s) => s.trim())
    .filter((s, i, all) => s !== '' || i < all.length - 1);
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p))) {
    throw new UsageError(`--seeds ${JSON.stringify(value)}: expected a count (e.g. 3) or a comma list of integers (e.g. 0,4,9, or 7, for seed 7 alone)`);
  }
  const seeds = parts.map(Number);
  // Seeds feed a 32-bit generator state: beyond 2^53 two different strings would parse to one seed.
  if (seeds.some((n) => !Number.isSafeInteger(n))) throw new UsageError(`--seeds ${JSON.stringify(value)}: a seed is larger than ${Number.MAX_SAFE_INTEGER}`);
  if (new Set(seeds).size !== seeds.length) throw new UsageError(`--seeds ${JSON.stringify(value)}: repeated seed`);
  return seeds;
}

export function parseList(flag: string, value: string): string[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new UsageError(`${flag} ${JSON.stringify(value)}: expected a comma-separated list`);
  return items;
}

/** "0.01" → every optimizer; "muon=0.02,adamw=1e-3" → per label. */
export function parseLr(value: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of parseList('--lr', value)) {
    const [label, raw] = part.includes('=') ? (part.split('=', 2) as [string, string]) : ['*', part];
    const lr = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(lr) || lr < 0) {
      throw new UsageError(`--lr ${JSON.stringify(value)}: "${raw}" is not a learning rate ≥ 0`);
    }
    out[label.trim()] = lr;
  }
  return out;
}

/** "i/n" with 1 ≤ i ≤ n. */
export function parseShard(value: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(value.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(count) || count < 1 || index < 1 || index > count) {
    throw new UsageError(`--shard ${JSON.stringify(value)}: expected i/n with 1 ≤ i ≤ n, e.g. 1/4`);
  }
  return { index, count };
}

export function parseSmooth(value: string): number {
  const x = Number(value);
  if (!Number.isFinite(x) || x < 0 || x >= 1) throw new UsageError(`--smooth ${JSON.stringify(value)}: expected a number in [0, 1)`);
  return x;
}

export function outDir(value: string | undefined, fallback: string): string {
  return resolve(value ?? fallback);
}

/** A filesystem-safe local timestamp for default output folder names. */
export function timestamp(date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}-${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}
