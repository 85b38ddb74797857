/**
 * Text from a trained language-model run: rebuild the run's transformer from its config.json, load
 * the trained weights from its final checkpoint, and continue a prompt one character at a time.
 * Sampling is seeded, so the same run, prompt, seed and backend give the same text.
 */
import { join } from 'node:path';
import { tf } from '../tf.js';
import { decode, loadBrown } from '../data/brown.js';
import { Rng } from '../data/rng.js';
import { buildModel } from './build.js';
import { readCheckpoint } from './checkpoint.js';
import { SpecError, type RunConfig } from './config.js';
import { readJSON } from './run_files.js';

export interface SampleOptions {
  /** Characters to generate. */
  readonly length: number;
  /** Text the model continues; every character must be in the corpus vocabulary. */
  readonly prompt: string;
  /** Softmax temperature; 0 picks the most likely character every time. */
  readonly temperature: number;
  readonly seed: number;
}

const SAMPLE_DEFAULTS: SampleOptions = { length: 300, prompt: 'The ', temperature: 0.8, seed: 0 };

/** The prompt followed by `length` generated characters. */
export function sampleText(runDir: string, options: Partial<SampleOptions> = {}): string {
  const o = { ...SAMPLE_DEFAULTS, ...options };
  if (!Number.isInteger(o.length) || o.length < 1 || o.length > 100_000) throw new SpecError(`--length ${o.length}: expected an integer in 1..100000`);
  if (!(o.temperature >= 0) || !Number.isFinite(o.temperature)) throw new SpecError(`--temperature ${o.temperature}: expected a number ≥ 0`);
  if (o.prompt.length === 0) throw new SpecError('--prompt: expected at least one character');
  let config: RunConfig;
  try {
    config = readJSON<RunConfig>(join(runDir, 'config.json'));
  } catch {
    throw new SpecError(`${runDir}: no readable config.json: not a run folder`);
  }
  if (config.model?.kind !== 'transformer' || config.data?.kind !== 'brown') {
    throw new SpecError(`${runDir}: sample needs a language-model run (model.kind "transformer"), this one is "${config.model?.kind}"`);
  }
  const checkpoint = (() => {
    try {
      return readCheckpoint(runDir);
    } catch (e) {
      throw new SpecError(`${runDir}: no usable checkpoint.bin (${(e as Error).message.split('\n')[0]}): run or resume it first`);
    }
  })();
  const corpus = loadBrown();
  const ids: number[] = [];
  for (const ch of o.prompt) {
    const id = corpus.vocab.indexOf(ch);
    if (id < 0) throw new SpecError(`--prompt: the character ${JSON.stringify(ch)} is not in the corpus vocabulary`);
    ids.push(id);
  }
  const V = corpus.vocab.length;
  const model = buildModel(config, { inputDim: config.model.context, outputDim: V }, new Rng(config.seed).fork('init'));
  try {
    const vars = model.variables;
    if (checkpoint.variables.length !== vars.length) throw new SpecError(`${runDir}: the checkpoint holds ${checkpoint.variables.length} variables, the model ${vars.length}`);
    tf.tidy(() => checkpoint.variables.forEach((t, i) => vars[i]!.assign(tf.tensor(t.data, [...t.shape], t.dtype))));
    const rng = new Rng(o.seed).fork('sample');
    const start = ids.length;
    for (let n = 0; n < o.length; n++) {
      const window = ids.slice(-config.model.context);
      const logits = tf.tidy(() => {
        const out = model.forward(tf.tensor2d(window, [1, window.length], 'int32') as unknown as tf.Tensor2D).output;
        // The last position's logits: the distribution of the next character.
        return tf.slice(out, [window.length - 1, 0], [1, V]);
      });
      const row = logits.dataSync() as Float32Array;
      logits.dispose();
      ids.push(pick(row, o.temperature, rng));
    }
    return o.prompt + decode(corpus, ids.slice(start));
  } finally {
    model.dispose();
  }
}

/** A character id from logits: argmax at temperature 0, else a draw from softmax(logits / T). */
function pick(logits: Float32Array, temperature: number, rng: Rng): number {
  if (temperature === 0) return logits.indexOf(Math.max(...logits));
  const max = Math.max(...logits);
  const weights = Array.from(logits, (l) => Math.exp((l - max) / temperature));
  let u = rng.next() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < weights.length; i++) {
    u -= weights[i]!;
    if (u <= 0) return i;
  }
  return weights.length - 1;
}
