/**
 * Property-based fuzzing (fast-check) of everything that reads user input: the flag parsers, the
 * spec validator, the optimizer option checks and the run-file readers. For thousands of generated
 * valid and invalid inputs each target must give a value or throw its one-line error class — never
 * another exception, never a hang, never a NaN or unsafe number passed on as a value.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { parseLr, parseList, parsePositiveInt, parseSeeds, parseShard, parseSmooth, UsageError } from '../../src/cli/args.js';
import { createOptimizer, listOptimizers, OptionError } from '../../src/optimizers/index.js';
import { expandRuns, SpecError, type ExperimentSpec } from '../../src/train/config.js';
import { readSummary } from '../../src/train/run_readers.js';
import { readMetrics } from '../../src/train/run_files.js';
import { tinyMlp, tinyMoe } from '../train/fixtures.js';

const RUNS = 2000;
// A fixed seed keeps the suite reproducible; set FUZZ_SEED to explore other inputs.
fc.configureGlobal({ seed: Number(process.env['FUZZ_SEED'] ?? 20261129) });

/** Runs f; a throw must be an instance of one of `allowed` with a one-line message. */
function valueOrOneLineError<T>(f: () => T, ...allowed: (new (...a: never[]) => Error)[]): T | undefined {
  try {
    return f();
  } catch (e) {
    if (!allowed.some((C) => e instanceof C)) throw new Error(`unexpected ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    const msg = (e as Error).message;
    if (msg.length === 0 || msg.includes('\n')) throw new Error(`not a one-line message: ${JSON.stringify(msg)}`);
    return undefined;
  }
}

// Strings that look like numbers, lists and shards, mixed with arbitrary text.
const numberish = fc.oneof(
  fc.integer().map(String),
  fc.double().map(String),
  fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String),
  fc.constantFrom('', ' ', ',', '0', '-1', '1e3', 'NaN', 'Infinity', '1/0', '0x10', '007', '3,', ',3', '1,,2', '2/1', '1/2', '9007199254740993'),
);
const flagText = fc.oneof(numberish, fc.string(), fc.array(numberish, { maxLength: 4 }).map((a) => a.join(',')), fc.tuple(numberish, numberish).map(([a, b]) => `${a}/${b}`));

describe('flag parsers', () => {
  it('every parser returns a finite, checked value or a one-line UsageError', () => {
    fc.assert(
      fc.property(flagText, (v) => {
        const n = valueOrOneLineError(() => parsePositiveInt('--steps', v), UsageError);
        if (n !== undefined) expect(Number.isSafeInteger(n) && n >= 1).toBe(true);
        const seeds = valueOrOneLineError(() => parseSeeds(v), UsageError);
        if (seeds !== undefined) {
          expect(seeds.length).toBeGreaterThan(0);
          expect(seeds.every((s) => Number.isSafeInteger(s) && s >= 0)).toBe(true);
          expect(new Set(seeds).size).toBe(seeds.length);
        }
        const shard = valueOrOneLineError(() => parseShard(v), UsageError);
        if (shard !== undefined) expect(Number.isSafeInteger(shard.count) && shard.index >= 1 && shard.index <= shard.count).toBe(true);
        const lr = valueOrOneLineError(() => parseLr(v), UsageError);
        if (lr !== undefined) expect(Object.values(lr).every((x) => Number.isFinite(x) && x >= 0)).toBe(true);
        const smooth = valueOrOneLineError(() => parseSmooth(v), UsageError);
        if (smooth !== undefined) expect(smooth >= 0 && smooth < 1).toBe(true);
        const list = valueOrOneLineError(() => parseList('--optimizers', v), UsageError);
        if (list !== undefined) expect(list.every((s) => s.length > 0)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('valid inputs parse to what they say', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat({ max: 1e6 }), { minLength: 2, maxLength: 6 }), fc.integer({ min: 1, max: 64 }), (seeds, count) => {
        expect(parseSeeds(seeds.join(','))).toEqual(seeds);
        expect(parseSeeds(String(count))).toEqual(Array.from({ length: count }, (_, i) => i));
        const index = 1 + (seeds[0]! % count);
        expect(parseShard(`${index}/${count}`)).toEqual({ index, count });
      }),
      { numRuns: RUNS },
    );
  });
});

// Specs: a valid base with one field replaced by an arbitrary JSON-ish value.
const anyValue = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  fc.integer({ min: -5, max: 5000 }),
  fc.string({ maxLength: 8 }),
  fc.constantFrom('cosine', 'constant', 'wsd', 'relu', 'gelu', 'mlp', 'moe', 'transformer', 'mnist', 'regimes', 'fp4', 'bf16'),
  fc.array(fc.integer({ min: -2, max: 9 }), { maxLength: 3 }),
  fc.dictionary(fc.constantFrom('kind', 'steps', 'warmup', 'experts', 'topK', 'hidden', 'learningRate', 'decayFraction'), fc.oneof(fc.double(), fc.integer({ min: -3, max: 300 }), fc.string({ maxLength: 6 }))),
);
const specPaths: readonly (readonly string[])[] = [
  ['steps'], ['batchSize'], ['evalEvery'], ['evalSize'], ['seeds'], ['divergenceFactor'], ['precision'], ['schedule'],
  ['schedule', 'kind'], ['schedule', 'warmup'], ['model'], ['model', 'hidden'], ['model', 'experts'], ['model', 'topK'],
  ['model', 'activation'], ['data'], ['data', 'kind'], ['optimizers'], ['optimizers', 'muon', 'options'],
  ['optimizers', 'adamw', 'options', 'learningRate'], ['optimizers', 'muon', 'options', 'momentum'], ['optimizers', 'adamw', 'name'],
];

function withField(spec: ExperimentSpec, path: readonly string[], value: unknown): ExperimentSpec {
  const copy = structuredClone(spec) as unknown as Record<string, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
  return copy as unknown as ExperimentSpec;
}

describe('spec validator', () => {
  it('a spec with any one field replaced resolves to sound runs or fails with one SpecError line', () => {
    fc.assert(
      fc.property(fc.constantFrom(tinyMlp, tinyMoe), fc.constantFrom(...specPaths), anyValue, (base, path, value) => {
        const runs = valueOrOneLineError(() => expandRuns(withField(base, path, value)), SpecError);
        if (runs === undefined) return;
        for (const r of runs) {
          expect(Number.isSafeInteger(r.steps) && r.steps >= 1).toBe(true);
          expect(Number.isSafeInteger(r.batchSize) && r.batchSize >= 1).toBe(true);
          expect(Number.isSafeInteger(r.evalEvery) && r.evalEvery >= 1).toBe(true);
          expect(Number.isFinite(r.divergenceFactor) && r.divergenceFactor > 1).toBe(true);
          expect(Number.isSafeInteger(r.seed)).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('optimizer option checks', () => {
  beforeAll(async () => {
    await initBackend();
  });
  it('any options object builds a working optimizer with finite settings or fails with one OptionError line', () => {
    const names = listOptimizers().map((o) => o.name);
    const optionNames = [...new Set(listOptimizers().flatMap((o) => o.options.map((x) => x.name))), 'bogus'];
    fc.assert(
      fc.property(
        fc.constantFrom(...names),
        fc.dictionary(fc.constantFrom(...optionNames), fc.oneof(fc.double(), fc.integer({ min: -3, max: 200 }), fc.boolean(), fc.string({ maxLength: 5 }), fc.constant(null)), { maxKeys: 3 }),
        (name, options) => {
          const opt = valueOrOneLineError(() => createOptimizer(name, options), OptionError);
          if (opt === undefined) return;
          const config = opt.getConfig() as Record<string, unknown>;
          for (const [k, v] of Object.entries(config)) {
            if (typeof v === 'number') expect(Number.isFinite(v), `${name}.${k} = ${v}`).toBe(true);
          }
          opt.dispose();
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('run-file readers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fuzz-files-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const goodSummary = { optimizer: 'adamw', seed: 0, steps: 10, finalLoss: 0.5, evalLoss: 0.6, diverged: false, spikes: {}, backend: 'wasm', configHash: 'abc' };

  it('summary.json of any content is ok, absent or damaged — never a throw', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc.nat({ max: 200 }).map((n) => JSON.stringify(goodSummary).slice(0, n)),
          fc.record({ key: fc.constantFrom(...Object.keys(goodSummary)), value: fc.jsonValue() }).map(({ key, value }) => JSON.stringify({ ...goodSummary, [key]: value })),
        ),
        (content) => {
          writeFileSync(join(dir, 'summary.json'), content);
          const read = readSummary(dir);
          expect(['ok', 'damaged']).toContain(read.kind);
          if (read.kind === 'damaged') expect(read.reason.includes('\n')).toBe(false);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('metrics.jsonl with a torn last line reads the complete lines; damage elsewhere is one error', () => {
    const line = (step: number) => JSON.stringify({ step, loss: 1 / step, gradNorm: 0.5, updateRms: { adamw: 1e-3 } });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.nat({ max: 60 }), fc.option(fc.nat({ max: 29 }), { nil: undefined }), (n, cut, corruptAt) => {
        const lines = Array.from({ length: n }, (_, i) => line(i + 1));
        const last = lines[n - 1]!;
        const torn = [...lines.slice(0, -1), last.slice(0, Math.min(cut, last.length))];
        // A damaged line followed by a complete one is corruption, not a torn tail.
        const corrupt = corruptAt !== undefined && corruptAt < n - 1 && torn[n - 1] !== '';
        if (corrupt) torn[corruptAt] = '{"step": oops';
        writeFileSync(join(dir, 'metrics.jsonl'), torn.join('\n') + (cut >= last.length ? '\n' : ''));
        const recs = valueOrOneLineError(() => readMetrics<{ step: number }>(join(dir, 'metrics.jsonl')), Error);
        if (corrupt) {
          expect(recs).toBeUndefined();
          return;
        }
        const complete = cut >= last.length ? n : n - 1;
        expect(recs!.map((r) => r.step)).toEqual(Array.from({ length: complete }, (_, i) => i + 1));
      }),
      { numRuns: RUNS },
    );
  });
});
