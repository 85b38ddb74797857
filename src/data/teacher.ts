/**
 * Teacher–student regression: x ~ N(0, I), y = teacher(x) + noise·N(0, I), where the teacher is a
 * random two-layer tanh MLP  teacher(x) = W2ᵀ tanh(W1ᵀ x)  (no biases) with W1 ~ N(0, 1/inputDim) and
 * W2 ~ N(0, 1/hidden). Hidden pre-activations then have variance ≈ 1 (tanh neither linear nor
 * saturated), and each output has variance ≈ E[tanh(z)²] ≈ 0.39 for z ~ N(0, 1), plus noise². Outputs
 * are NOT standardised, so a zero predictor starts at MSE ≈ 0.39 + noise².
 *
 * Deterministic in the seed: teacher weights, train inputs, test inputs and noise come from separate
 * forks of `new Rng(seed)`, so e.g. changing nTest does not change the training set.
 */
import { checkInt, checkKeys, checkNumber, checkSeed, SYNTHETIC_INPUT_DIM, SYNTHETIC_OUTPUT_DIM, type Dataset } from './dataset.js';
import { Rng } from './rng.js';

/** A random tanh MLP  f(u) = W2ᵀ tanh(W1ᵀ u), weights row-major W1 [inputDim, hidden], W2 [hidden, outputDim]. */
export interface TanhTeacher {
  readonly inputDim: number;
  readonly hidden: number;
  readonly outputDim: number;
  readonly w1: Float64Array;
  readonly w2: Float64Array;
  /** Writes f(u) for one input row u (length inputDim) into out[outOffset .. outOffset + outputDim). */
  apply(u: ArrayLike<number>, out: Float32Array | Float64Array, outOffset?: number): void;
}

/** Draws a teacher with W1 ~ N(0, 1/inputDim) and W2 ~ N(0, 1/hidden) from `rng`. */
export function randomTanhTeacher(rng: Rng, inputDim: number, hidden: number, outputDim: number): TanhTeacher {
  checkInt('randomTanhTeacher', 'inputDim', inputDim);
  checkInt('randomTanhTeacher', 'hidden', hidden);
  checkInt('randomTanhTeacher', 'outputDim', outputDim);
  const w1 = new Float64Array(inputDim * hidden);
  const s1 = 1 / Math.sqrt(inputDim);
  for (let i = 0; i < w1.length; i++) w1[i] = rng.normal() * s1;
  const w2 = new Float64Array(hidden * outputDim);
  const s2 = 1 / Math.sqrt(hidden);
  for (let i = 0; i < w2.length; i++) w2[i] = rng.normal() * s2;
  const h = new Float64Array(hidden);
  return {
    inputDim,
    hidden,
    outputDim,
    w1,
    w2,
    apply(u, out, outOffset = 0) {
      h.fill(0);
      for (let i = 0; i < inputDim; i++) {
        const ui = u[i]!;
        const row = i * hidden;
        for (let j = 0; j < hidden; j++) h[j]! += ui * w1[row + j]!;
      }
      for (let j = 0; j < hidden; j++) h[j] = Math.tanh(h[j]!);
      for (let k = 0; k < outputDim; k++) {
        let s = 0;
        for (let j = 0; j < hidden; j++) s += h[j]! * w2[j * outputDim + k]!;
        out[outOffset + k] = s;
      }
    },
  };
}

export interface TeacherStudentOptions {
  seed: number;
  inputDim?: number;
  hidden?: number;
  outputDim?: number;
  nTrain?: number;
  nTest?: number;
  /** Standard deviation of the Gaussian noise added to y (≥ 0). */
  noise?: number;
}

export function teacherStudent(opts: TeacherStudentOptions): Dataset {
  const fn = 'teacherStudent';
  checkKeys(fn, opts, ['seed', 'inputDim', 'hidden', 'outputDim', 'nTrain', 'nTest', 'noise']);
  const seed = checkSeed(fn, opts.seed);
  const inputDim = checkInt(fn, 'inputDim', opts.inputDim ?? SYNTHETIC_INPUT_DIM);
  const hidden = checkInt(fn, 'hidden', opts.hidden ?? 32);
  const outputDim = checkInt(fn, 'outputDim', opts.outputDim ?? SYNTHETIC_OUTPUT_DIM);
  const nTrain = checkInt(fn, 'nTrain', opts.nTrain ?? 4096);
  const nTest = checkInt(fn, 'nTest', opts.nTest ?? 1024);
  const noise = checkNumber(fn, 'noise', opts.noise ?? 0.01, { min: 0 });

  const rng = new Rng(seed);
  const teacher = randomTanhTeacher(rng.fork('teacher/weights'), inputDim, hidden, outputDim);

  const makeSplit = (n: number, label: string) => {
    const x = rng.fork(`teacher/x-${label}`).normals(n * inputDim);
    const y = new Float32Array(n * outputDim);
    const noiseRng = rng.fork(`teacher/noise-${label}`);
    for (let i = 0; i < n; i++) {
      teacher.apply(x.subarray(i * inputDim, (i + 1) * inputDim), y, i * outputDim);
      if (noise > 0) for (let k = 0; k < outputDim; k++) y[i * outputDim + k]! += noise * noiseRng.normal();
    }
    return { x, y, n };
  };

  return {
    name: 'teacher-student',
    kind: 'regression',
    inputDim,
    outputDim,
    train: makeSplit(nTrain, 'train'),
    test: makeSplit(nTest, 'test'),
  };
}
