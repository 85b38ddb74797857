/**
 * Mixture of regimes: `clusters` separated Gaussian blobs in input space, each with its own random
 * tanh teacher, so a mixture-of-experts model has something to specialise on.
 *
 *   centre_k = sqrt(inputDim) · g_k / |g_k|,  g_k ~ N(0, I)      (random directions, all at radius √d)
 *   x        = centre_k + spread · z,         z ~ N(0, I)
 *   y        = teacher_k(z) + noise · N(0, I),  then standardised (see below)
 *
 * Separation: two random centres are ≈ √(2d) apart while a blob's points lie ≈ spread·√d from their
 * centre, so the gap-to-radius ratio is ≈ √2/spread (≈ 4.7 at the default spread 0.3, with d large
 * enough that random directions are nearly orthogonal; with tiny inputDim and many clusters, centres
 * can come close and blobs may overlap).
 *
 * Each teacher_k is an independent two-layer tanh MLP (W1 ~ N(0, 1/inputDim), W2 ~ N(0, 1/hidden),
 * see teacher.ts) evaluated in the cluster's LOCAL coordinates z = (x − centre_k)/spread. As a function
 * of x this is still a tanh MLP (first layer W1/spread, bias −W1ᵀcentre_k/spread). Feeding raw x instead
 * would make each teacher nearly constant over its small blob, so the task would collapse to "learn one
 * offset per cluster"; in local coordinates every cluster has a genuinely different nonlinear map with
 * the same output distribution.
 *
 * Standardisation: after adding noise, each output column is shifted and scaled by the TRAIN mean and
 * standard deviation (the same affine map is applied to test). So on train a zero predictor has MSE
 * exactly 1 (averaged over outputs, up to float rounding); on test it is ≈ 1.
 *
 * Cluster ids are balanced (each cluster gets ⌊n/K⌋ or ⌈n/K⌉ examples) and recorded in `groups`.
 * Deterministic in the seed; centres, teachers, train/test inputs and noise come from separate forks.
 */
import { checkInt, checkKeys, checkNumber, checkSeed, SYNTHETIC_INPUT_DIM, SYNTHETIC_OUTPUT_DIM, type Dataset, type Split } from './dataset.js';
import { Rng } from './rng.js';
import { randomTanhTeacher } from './teacher.js';

export interface MixtureOfRegimesOptions {
  seed: number;
  inputDim?: number;
  outputDim?: number;
  clusters?: number;
  hidden?: number;
  /** Standard deviation of each blob around its centre (centres lie at radius √inputDim). */
  spread?: number;
  nTrain?: number;
  nTest?: number;
  /** Standard deviation of the Gaussian noise added to y before standardisation (≥ 0). */
  noise?: number;
}

export function mixtureOfRegimes(opts: MixtureOfRegimesOptions): Dataset {
  const fn = 'mixtureOfRegimes';
  checkKeys(fn, opts, ['seed', 'inputDim', 'outputDim', 'clusters', 'hidden', 'spread', 'nTrain', 'nTest', 'noise']);
  const seed = checkSeed(fn, opts.seed);
  const inputDim = checkInt(fn, 'inputDim', opts.inputDim ?? SYNTHETIC_INPUT_DIM);
  const outputDim = checkInt(fn, 'outputDim', opts.outputDim ?? SYNTHETIC_OUTPUT_DIM);
  const clusters = checkInt(fn, 'clusters', opts.clusters ?? 8);
  const hidden = checkInt(fn, 'hidden', opts.hidden ?? 32);
  const spread = checkNumber(fn, 'spread', opts.spread ?? 0.3, { min: 0, minExclusive: true });
  const nTrain = checkInt(fn, 'nTrain', opts.nTrain ?? 8192, 2);
  const nTest = checkInt(fn, 'nTest', opts.nTest ?? 2048);
  const noise = checkNumber(fn, 'noise', opts.noise ?? 0.01, { min: 0 });

  const rng = new Rng(seed);

  // Centres: random directions at radius sqrt(inputDim).
  const centreRng = rng.fork('regimes/centres');
  const centres = new Float64Array(clusters * inputDim);
  for (let k = 0; k < clusters; k++) {
    let norm2 = 0;
    while (norm2 === 0) {
      norm2 = 0;
      for (let i = 0; i < inputDim; i++) {
        const g = centreRng.normal();
        centres[k * inputDim + i] = g;
        norm2 += g * g;
      }
    }
    const s = Math.sqrt(inputDim / norm2);
    for (let i = 0; i < inputDim; i++) centres[k * inputDim + i]! *= s;
  }

  const teachers = Array.from({ length: clusters }, (_, k) =>
    randomTanhTeacher(rng.fork(`regimes/teacher${k}`), inputDim, hidden, outputDim),
  );

  const makeSplit = (n: number, label: string): Split => {
    const groups = new Int32Array(n);
    const perm = rng.fork(`regimes/groups-${label}`).permutation(n);
    for (let i = 0; i < n; i++) groups[perm[i]!] = i % clusters;
    const zRng = rng.fork(`regimes/x-${label}`);
    const noiseRng = rng.fork(`regimes/noise-${label}`);
    const x = new Float32Array(n * inputDim);
    const y = new Float32Array(n * outputDim);
    const z = new Float64Array(inputDim);
    for (let r = 0; r < n; r++) {
      const k = groups[r]!;
      for (let i = 0; i < inputDim; i++) {
        // Local coordinate as the model will see it: z computed from the stored float32 x.
        const xi = Math.fround(centres[k * inputDim + i]! + spread * zRng.normal());
        x[r * inputDim + i] = xi;
        z[i] = (xi - centres[k * inputDim + i]!) / spread;
      }
      teachers[k]!.apply(z, y, r * outputDim);
      if (noise > 0) for (let j = 0; j < outputDim; j++) y[r * outputDim + j]! += noise * noiseRng.normal();
    }
    return { x, y, n, groups };
  };

  const train = makeSplit(nTrain, 'train');
  const test = makeSplit(nTest, 'test');

  // Standardise each output column with train statistics.
  for (let j = 0; j < outputDim; j++) {
    let mean = 0;
    for (let r = 0; r < nTrain; r++) mean += train.y[r * outputDim + j]!;
    mean /= nTrain;
    let v = 0;
    for (let r = 0; r < nTrain; r++) v += (train.y[r * outputDim + j]! - mean) ** 2;
    const std = Math.sqrt(v / nTrain);
    const inv = std > 0 ? 1 / std : 1;
    for (const s of [train, test]) {
      for (let r = 0; r < s.n; r++) s.y[r * outputDim + j] = (s.y[r * outputDim + j]! - mean) * inv;
    }
  }

  return { name: 'mixture-of-regimes', kind: 'regression', inputDim, outputDim, train, test };
}
