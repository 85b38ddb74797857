import { describe, expect, it } from 'vitest';
import { parseLr, parseSeeds, parseShard, UsageError } from '../../src/cli/args.js';

describe('parseSeeds', () => {
  it('reads a count as seeds 0..N-1 and a list as exactly those seeds', () => {
    expect(parseSeeds('3')).toEqual([0, 1, 2]);
    expect(parseSeeds('0,4,9')).toEqual([0, 4, 9]);
  });
  it('takes a trailing comma to mean a one-seed list', () => {
    expect(parseSeeds('7,')).toEqual([7]);
  });
  it('rejects empty items, repeats and non-integers', () => {
    for (const bad of ['1,,2', ',', 'x', '1,1', '0', '-1']) expect(() => parseSeeds(bad), bad).toThrow(UsageError);
  });
});

describe('parseLr', () => {
  it('applies a bare value to every optimizer and label=value pairs per label', () => {
    expect(parseLr('0.01')).toEqual({ '*': 0.01 });
    expect(parseLr('muon=0.02,adamw=1e-3')).toEqual({ muon: 0.02, adamw: 1e-3 });
  });
  it('rejects non-numbers and negatives', () => {
    for (const bad of ['abc', 'muon=', 'muon=-1']) expect(() => parseLr(bad), bad).toThrow(/--lr/);
  });
});

describe('parseShard', () => {
  it('reads i/n with 1 ≤ i ≤ n', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
  });
  it('rejects out-of-range and malformed shards', () => {
    for (const bad of ['0/2', '3/2', '1/0', '1-2', 'a/b']) expect(() => parseShard(bad), bad).toThrow(/--shard/);
  });
});
