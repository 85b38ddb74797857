/**
 * The playground's compact data and its stand-ins for Node built-ins: what ships to the browser
 * must decode to exactly the values the CLI trains on, and config hashes must be Node's.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBrown } from '../../src/data/brown.js';
import { mnistPackageRoot } from '../../src/data/mnist.js';
import { packBrown, packMnist, unpackBrown, unpackMnist } from '../../src/playground/data_pack.js';
import { sha256Hex } from '../../src/playground/sha256.js';
import { cliCommand, type ExperimentInfo } from '../../src/playground/protocol.js';

describe('playground data', () => {
  it('MNIST as palette bytes decodes to the same float32 values loadMnist reads from the package', () => {
    const raw = Array.from({ length: 10 }, (_, d) => (JSON.parse(readFileSync(join(mnistPackageRoot(), 'src', 'digits', `${d}.json`), 'utf8')) as { data: number[] }).data);
    const packed = packMnist(raw);
    // One byte per pixel plus a small header.
    expect(packed.length).toBeLessThan(raw.reduce((a, d) => a + d.length, 0) + 20_000);
    const digits = unpackMnist(packed);
    expect(digits).toHaveLength(10);
    for (let d = 0; d < 10; d++) {
      const expected = Float32Array.from(raw[d]!);
      expect(digits[d]!.length).toBe(expected.length);
      // Compare bit patterns, so that even -0 vs 0 would count.
      expect(Buffer.from(digits[d]!.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    }
  });

  it('refuses pixel data with more than 256 distinct values', () => {
    expect(() => packMnist([Array.from({ length: 784 }, (_, i) => i / 1000)])).toThrow(/do not fit a byte/);
  });

  it('the Brown Corpus round-trips as token ids', () => {
    const corpus = loadBrown();
    const back = unpackBrown(packBrown(corpus));
    expect(back.vocab).toBe(corpus.vocab);
    expect(back.documents).toEqual(corpus.documents);
    expect(back.heldOutDocuments).toEqual(corpus.heldOutDocuments);
    expect(Buffer.from(back.train).equals(Buffer.from(corpus.train))).toBe(true);
    expect(Buffer.from(back.heldOut).equals(Buffer.from(corpus.heldOut))).toBe(true);
  });

  it('a truncated file is reported as damaged', () => {
    const packed = packMnist([Array.from({ length: 784 * 2 }, (_, i) => (i % 7) / 10)]);
    expect(() => unpackMnist(packed.subarray(0, packed.length - 5))).toThrow(/damaged/);
  });
});

describe('playground SHA-256', () => {
  it.each(['', 'abc', 'é∑ unicode ✓', 'x'.repeat(55), 'y'.repeat(56), 'z'.repeat(64), JSON.stringify({ a: [1, 2, { b: null }] }).repeat(40)])(
    'equals node:crypto for %#',
    (text) => {
      expect(sha256Hex(text)).toBe(createHash('sha256').update(text).digest('hex'));
    },
  );
});

describe('playground CLI command', () => {
  const info: ExperimentInfo = {
    name: 'mnist-mlp',
    description: '',
    defaultSteps: 300,
    data: 'mnist',
    optimizers: [
      { label: 'adamw', name: 'adamw', defaultLr: 0.01, lrSource: 'tuned', inSpec: true },
      { label: 'muon', name: 'muon', defaultLr: 0.0316, lrSource: 'tuned', inSpec: true },
    ],
  };
  it('names only the LRs that differ from the defaults', () => {
    const request = { experiment: 'mnist-mlp', steps: 30, seeds: 2, optimizers: [{ label: 'adamw', lr: 0.01 }, { label: 'muon', lr: 0.0632 }] };
    expect(cliCommand(request, info, 'wasm')).toBe('npm run sandbox -- run mnist-mlp --steps 30 --seeds 2 --optimizers adamw,muon --lr muon=0.0632 --backend wasm');
  });
  it('falls back to --backend wasm for browser-only backends', () => {
    const request = { experiment: 'mnist-mlp', steps: 10, seeds: 1, optimizers: [{ label: 'adamw', lr: 0.01 }] };
    expect(cliCommand(request, info, 'webgl')).toMatch(/--backend wasm$/);
  });
});
