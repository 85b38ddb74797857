/**
 * Training the transformer LM end to end: per-step signals in metrics.jsonl, evalBpc
 * and head-clip counts in summary.json, QK-clip from `muon-clip` (declared by its definition) and
 * from the experiment option,
 * determinism, and the spec checks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { initBackend } from '../../src/backend.js';
import { expandRuns, SpecError } from '../../src/train/config.js';
import { executeRun } from '../../src/train/run.js';
import { readJSON, readMetrics } from '../../src/train/run_files.js';
import type { StepRecord } from '../../src/train/loop.js';
import { oneRun, tempDir, tinyLm } from './fixtures.js';
import { tf } from '../../src/tf.js';
import { declaredAfterStep, defineOptimizer, learningRate, numberOption, transforms } from '../../src/optimizers/index.js';

beforeAll(async () => {
  await initBackend();
});

describe('training the transformer LM', () => {
  it('writes the instability signals every step and evalBpc = evalLoss / ln 2 in summary.json', async () => {
    const dir = join(tempDir('lm'), 'run');
    const before = tf.memory().numTensors;
    const summary = await executeRun(oneRun(tinyLm, 'adamw'), dir);
    expect(tf.memory().numTensors).toBe(before);
    const recs = readMetrics<StepRecord>(join(dir, 'metrics.jsonl'));
    expect(recs).toHaveLength(12);
    for (const r of recs) {
      expect(r.maxAttnLogit).toBeGreaterThan(0);
      expect(r.maxAttnLogitPerLayer).toHaveLength(2);
      expect(r.maxAttnLogit).toBe(Math.max(...r.maxAttnLogitPerLayer!));
      expect(r.minAttnEntropy).toBeGreaterThan(0);
      expect(r.minAttnEntropy).toBeLessThan(Math.log(16));
      expect(r.outputLogitMax).toBeGreaterThan(0);
      expect(Number.isFinite(r.outputLogZ)).toBe(true);
      expect(r.expertLoad).toHaveLength(2);
      expect(r.maxVio).toBeGreaterThanOrEqual(0);
      expect(r.qkClips).toBeUndefined();
    }
    // Initial loss near log(85): the model starts close to uniform over the vocabulary.
    expect(recs[0]!.loss).toBeGreaterThan(3.5);
    expect(recs[0]!.loss).toBeLessThan(6);
    expect(recs[5]!.evalBpc).toBeCloseTo(recs[5]!.evalLoss! / Math.LN2, 10);
    expect(summary.evalBpc).toBeCloseTo(summary.evalLoss! / Math.LN2, 10);
    expect(summary.headClips).toBeUndefined();
  });

  it('muon-clip applies QK-clip after each step, counts head-clips, and repeats exactly', async () => {
    const config = oneRun(tinyLm, 'muon-clip', 0, { steps: 6 });
    expect(config.qkClip).toEqual({ threshold: 100, alpha: 0.5 });
    // A threshold under the initial logits makes every head clip at every step.
    const low = { ...config, optimizer: { ...config.optimizer, options: { qkClipThreshold: 0.05 } }, qkClip: { threshold: 0.05, alpha: 0.5 } };
    const root = tempDir('lm-clip');
    const a = await executeRun(low, join(root, 'a'));
    const b = await executeRun(low, join(root, 'b'));
    expect(b.finalLoss).toBe(a.finalLoss);
    const recs = readMetrics<StepRecord>(join(root, 'a', 'metrics.jsonl'));
    expect(recs[0]!.qkClips).toBe(2 * 2); // every head of both layers starts far above τ = 0.05
    // A head is clipped at a step exactly when its forward maximum exceeded τ.
    for (const r of recs) expect(r.qkClips).toBe(r.maxAttnLogitPerHead!.flat().filter((m) => m > 0.05).length);
    expect(a.headClips).toBe(recs.reduce((n, r) => n + r.qkClips!, 0));
    expect(readJSON<{ qkClip: unknown }>(join(root, 'a', 'config.json')).qkClip).toEqual({ threshold: 0.05, alpha: 0.5 });
    // Without the clip the same run takes other values: the clip really changed the weights.
    const plain = await executeRun({ ...low, qkClip: null }, join(root, 'c'));
    expect(plain.finalLoss).not.toBe(a.finalLoss);
    expect(plain.headClips).toBeUndefined();
  });

  it('takes QK-clip from what an optimizer declares for after its steps, not from its option names', () => {
    // A variant that declares QK-clip under its own option names gets it; one that merely has
    // options named like MuonClip's, without declaring anything, does not.
    defineOptimizer({
      name: 'test-declares-clip',
      className: 'TestDeclaresClip',
      description: 'SGD that declares QK-clip',
      options: { learningRate: learningRate(0.1, 'test'), tau: numberOption(7, { min: 0 }, 'τ', 'test'), share: numberOption(0.25, { min: 0, max: 1 }, 'α', 'test') },
      plan: (o) => ({ groups: { main: { learningRate: o.learningRate, transform: transforms.scale(1) } } }),
      afterStep: (o) => ({ qkClip: { threshold: o.tau, alpha: o.share } }),
    });
    defineOptimizer({
      name: 'test-named-like-clip',
      className: 'TestNamedLikeClip',
      description: 'SGD with options named like MuonClip’s',
      options: { learningRate: learningRate(0.1, 'test'), qkClipThreshold: numberOption(7, { min: 0 }, 'τ', 'test'), qkClipAlpha: numberOption(0.25, { min: 0, max: 1 }, 'α', 'test') },
      plan: (o) => ({ groups: { main: { learningRate: o.learningRate, transform: transforms.scale(1) } } }),
    });
    expect(declaredAfterStep('test-declares-clip', { tau: 3 })).toEqual({ qkClip: { threshold: 3, alpha: 0.25 } });
    expect(declaredAfterStep('muon-clip')).toEqual({ qkClip: { threshold: 100, alpha: 0.5 } });
    expect(declaredAfterStep('muon')).toEqual({});
    expect(oneRun(tinyLm, 'test-declares-clip').qkClip).toEqual({ threshold: 7, alpha: 0.25 });
    expect(oneRun(tinyLm, 'test-named-like-clip').qkClip).toBeNull();
    // The experiment's own setting wins over the optimizer's.
    const [run] = expandRuns({ ...tinyLm, qkClip: { threshold: 50 } }, { optimizers: ['test-declares-clip'] });
    expect(run!.qkClip).toEqual({ threshold: 50, alpha: 0.5 });
  });

  it('takes QK-clip for any optimizer from the experiment, and checks the LM spec fields', () => {
    const [run] = expandRuns({ ...tinyLm, qkClip: { threshold: 50 } }, { optimizers: ['adamw'] });
    expect(run!.qkClip).toEqual({ threshold: 50, alpha: 0.5 });
    expect(oneRun(tinyLm, 'adamw').qkClip).toBeNull();
    const bad = (over: object, re: RegExp) => expect(() => expandRuns({ ...tinyLm, ...over })).toThrow(re);
    bad({ model: { ...tinyLm.model, heads: 3 } }, /heads = 3 does not divide dModel = 16/);
    bad({ model: { ...tinyLm.model, ffn: 'sparse' } }, /ffn = "sparse"/);
    bad({ model: { ...tinyLm.model, dModell: 8 } }, /dModell: unknown field/);
    bad({ model: { ...tinyLm.model, moe: { topK: 3 } } }, /moe\.topK = 3/);
    bad({ qkClip: { threshold: 0 } }, /qkClip\.threshold = 0/);
    bad({ qkClip: { alpha: 2 } }, /qkClip\.alpha = 2/);
    bad({ data: { kind: 'mnist' } }, /does not fit data.kind "mnist"/);
    expect(() => expandRuns({ ...tinyLm, model: { kind: 'mlp', hidden: [4], activation: 'relu' } })).toThrow(SpecError);
  });
});

describe('sample: text from a trained LM run', () => {
  it('continues the prompt from the final checkpoint, seeded; refuses runs it cannot sample', async () => {
    const { sampleText } = await import('../../src/train/sample.js');
    const { loadBrown } = await import('../../src/data/brown.js');
    const { rmSync } = await import('node:fs');
    const { tinyMlp } = await import('./fixtures.js');
    const root = tempDir('lm-sample');
    const dir = join(root, 'lm');
    await executeRun(oneRun(tinyLm, 'adamw'), dir);
    const before = tf.memory().numTensors;
    const a = sampleText(dir, { prompt: 'The ', length: 40, temperature: 1, seed: 3 });
    expect(tf.memory().numTensors).toBe(before);
    expect(a.startsWith('The ')).toBe(true);
    expect(a).toHaveLength(44);
    const vocab = loadBrown().vocab;
    expect([...a].every((c) => vocab.includes(c))).toBe(true);
    expect(sampleText(dir, { prompt: 'The ', length: 40, temperature: 1, seed: 3 })).toBe(a);
    expect(sampleText(dir, { prompt: 'The ', length: 40, temperature: 1, seed: 4 })).not.toBe(a);
    // Greedy decoding draws no random numbers: the seed does not matter.
    expect(sampleText(dir, { length: 20, temperature: 0, seed: 1 })).toBe(sampleText(dir, { length: 20, temperature: 0, seed: 2 }));
    expect(() => sampleText(dir, { prompt: '€' })).toThrow(SpecError);

    const mlp = join(root, 'mlp');
    await executeRun(oneRun(tinyMlp, 'adamw', 0, { steps: 3 }), mlp);
    expect(() => sampleText(mlp)).toThrow(/needs a language-model run/);
    rmSync(join(dir, 'checkpoint.bin'));
    expect(() => sampleText(dir)).toThrow(/no usable checkpoint/);
  });
});
