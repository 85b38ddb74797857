/**
 * Injected perturbations (src/train/inject.ts): an injected step changes the run from that step on
 * and not before; a run without injections trains exactly as before and keeps its config hash.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { tf } from '../../src/tf.js';
import type { RunConfig } from '../../src/train/config.js';
import { injectionProblem } from '../../src/train/inject.js';
import { train, type StepRecord } from '../../src/train/loop.js';
import { configHash } from '../../src/train/run.js';
import { oneRun, tinyLm, tinyMlp } from './fixtures.js';

beforeAll(async () => {
  await initBackend();
});

/** Every record with its wall time dropped: the rest is a function of the config and backend alone. */
async function recordsOf(config: RunConfig): Promise<Omit<StepRecord, 'ms'>[]> {
  const out: Omit<StepRecord, 'ms'>[] = [];
  await train(config, {
    onRecord: (r) => {
      const { ms: _ms, ...rest } = r;
      out.push(JSON.parse(JSON.stringify(rest)) as Omit<StepRecord, 'ms'>);
    },
  });
  return out;
}

describe('injection', () => {
  it('a corrupted batch at step 8 changes the LM loss at step 8 and leaves steps 1–7 byte-identical', async () => {
    const clean = oneRun(tinyLm, 'adamw', 0, { steps: 10 });
    const before = tf.memory().numTensors;
    const a = await recordsOf(clean);
    const b = await recordsOf({ ...clean, inject: [{ step: 8, kind: 'batch' }] });
    expect(tf.memory().numTensors).toBe(before);
    expect(b.slice(0, 7)).toEqual(a.slice(0, 7));
    // Shuffled targets: the model is judged on the wrong characters, so the loss jumps.
    expect(b[7]!.loss).toBeGreaterThan(a[7]!.loss + 0.05);
    expect(b[7]!.lr).toBe(a[7]!.lr);
  });

  it('a 10× LR step at step 8 shows in the lr at step 8 and the loss from step 9, not before', async () => {
    const clean = oneRun(tinyMlp, 'adamw', 0, { steps: 12 });
    const a = await recordsOf(clean);
    const b = await recordsOf({ ...clean, inject: [{ step: 8, kind: 'lr', factor: 10 }] });
    expect(b.slice(0, 7)).toEqual(a.slice(0, 7));
    // The loss of step 8 is measured before its update, so it is unchanged; the update is 10× larger.
    expect(b[7]!.loss).toBe(a[7]!.loss);
    expect(b[7]!.lr).toBeCloseTo(a[7]!.lr * 10, 12);
    expect(b[8]!.lr).toBe(a[8]!.lr);
    expect(b[8]!.loss).not.toBe(a[8]!.loss);
  });

  it('an empty injection list trains byte-identically to none, and deterministically', async () => {
    const clean = oneRun(tinyMlp, 'muon', 0, { steps: 8 });
    const a = await recordsOf(clean);
    expect(await recordsOf({ ...clean, inject: [] })).toEqual(a);
    const inj: RunConfig = { ...clean, inject: [{ step: 4, kind: 'batch' }] };
    expect(await recordsOf(inj)).toEqual(await recordsOf(inj));
  });

  it('the config hash is unchanged without `inject` and changes with it', () => {
    const clean = oneRun(tinyMlp, 'adamw');
    expect('inject' in clean).toBe(false);
    // The hash this config had before injections existed (a resume key of existing runs).
    expect(configHash(clean)).toBe(HASH_BEFORE_INJECTION);
    expect(configHash({ ...clean, inject: [{ step: 3, kind: 'lr', factor: 4 }] })).not.toBe(HASH_BEFORE_INJECTION);
  });

  it('rejects bad injections with one line', () => {
    expect(injectionProblem([{ step: 0, kind: 'batch' }], 10)).toMatch(/step 0/);
    expect(injectionProblem([{ step: 11, kind: 'batch' }], 10)).toMatch(/\[1, 10\]/);
    expect(injectionProblem([{ step: 3, kind: 'lr', factor: -1 }], 10)).toMatch(/factor/);
    expect(injectionProblem([{ step: 3, kind: 'batch' }, { step: 3, kind: 'batch' }], 10)).toMatch(/two injections/);
    expect(injectionProblem([{ step: 3, kind: 'lr', factor: 8 }], 10)).toBeUndefined();
  });
});

const HASH_BEFORE_INJECTION = 'aaa46997e7c29d9a';
