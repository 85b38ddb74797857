/**
 * Plain-JS float64 reference optimizers, written from docs/references.md#muon and #adamw and the published
 * PyTorch / KellerJordan code paths they describe. Nothing here imports the code under test:
 * the tests compare the tfjs optimizers against these.
 *
 * Layout: parameters arrive in tfjs layout (a Dense kernel is [fan_in, fan_out], an expert bank
 * is [E, fan_in, fan_out], row-major). The Muon reference converts each matrix to PyTorch's
 * [out, in] layout and then follows Keller's `muon.py` literally (size(-2)/size(-1) is
 * fan_out/fan_in there), and converts the result back.
 */

import { bf16ByBits } from '../precision/reference.js';

// ------------------------------------------------------------------ seeded random numbers

/** mulberry32: a tiny seeded generator, enough for reproducible test data. */
export class Rng {
  private s: number;
  private spare: number | undefined;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  uniform(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
  /** n normal values times `scale`, rounded to float32 so that tfjs sees exactly the same numbers. */
  normals(n: number, scale = 1): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.fround(this.normal() * scale);
    return out;
  }
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

// ------------------------------------------------------------------ dense float64 matrices

export class Mat {
  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly data: Float64Array = new Float64Array(rows * cols),
  ) {
    if (data.length !== rows * cols) throw new Error(`Mat: ${data.length} values for ${rows}×${cols}`);
  }
  get(i: number, j: number): number {
    return this.data[i * this.cols + j]!;
  }
  set(i: number, j: number, v: number): void {
    this.data[i * this.cols + j] = v;
  }
  t(): Mat {
    const out = new Mat(this.cols, this.rows);
    for (let i = 0; i < this.rows; i++) for (let j = 0; j < this.cols; j++) out.set(j, i, this.get(i, j));
    return out;
  }
  matmul(b: Mat): Mat {
    if (this.cols !== b.rows) throw new Error(`matmul: ${this.rows}×${this.cols} by ${b.rows}×${b.cols}`);
    const out = new Mat(this.rows, b.cols);
    for (let i = 0; i < this.rows; i++) {
      for (let k = 0; k < this.cols; k++) {
        const a = this.get(i, k);
        if (a === 0) continue;
        for (let j = 0; j < b.cols; j++) out.data[i * b.cols + j]! += a * b.get(k, j);
      }
    }
    return out;
  }
  /** α·this + β·b */
  combine(alpha: number, b: Mat, beta: number): Mat {
    const out = new Mat(this.rows, this.cols);
    for (let i = 0; i < this.data.length; i++) out.data[i] = alpha * this.data[i]! + beta * b.data[i]!;
    return out;
  }
  scale(s: number): Mat {
    return new Mat(this.rows, this.cols, this.data.map((x) => x * s));
  }
  frobenius(): number {
    let s = 0;
    for (const x of this.data) s += x * x;
    return Math.sqrt(s);
  }
}

// ------------------------------------------------------------------ Newton–Schulz (Keller)

export const KELLER_ABC: readonly [number, number, number] = [3.4445, -4.775, 2.0315];

export type Abc = readonly [number, number, number];

export interface RefNsOptions {
  steps?: number;
  /** One triple for all steps, or one per step (a short list repeats its last triple). */
  coefficients?: Abc | readonly Abc[];
  epsilon?: number;
  /** 'bf16': Keller's `G.bfloat16()` path, see newtonSchulzBf16. */
  precision?: 'fp32' | 'bf16';
}

/**
 * A float64 value as torch's bf16 kernels produce it: accumulated in float32 (Math.fround), then
 * rounded to bf16 by the bit rule of docs/references.md#number-formats.
 */
export const toBf16 = (x: number): number => bf16ByBits(Math.fround(x));

const bf16Mat = (m: Mat): Mat => new Mat(m.rows, m.cols, m.data.map(toBf16));

/**
 * Keller's `zeropower_via_newtonschulz5` as run on `G.bfloat16()` (CPU torch semantics): every
 * tensor is bf16, so every matmul result (accumulated in float64 here, in float32 by torch: the
 * difference is far below bf16's resolution) and every elementwise result is rounded to bf16;
 * X.norm() is accumulated and then rounded. Order as written in muon.py:
 * B = b·A + (c·A)@A, X = a·X + B@X.
 */
function newtonSchulzBf16(g: Mat, steps: number, perStep: (i: number) => Abc, eps: number): Mat {
  const transposed = g.rows > g.cols;
  let x = bf16Mat(transposed ? g.t() : g);
  const denom = toBf16(toBf16(x.frobenius()) + eps);
  x = bf16Mat(x.scale(1 / denom));
  for (let i = 0; i < steps; i++) {
    const [a, b, c] = perStep(i);
    const A = bf16Mat(x.matmul(x.t()));
    const cA = bf16Mat(A.scale(c));
    const B = bf16Mat(bf16Mat(A.scale(b)).combine(1, bf16Mat(cA.matmul(A)), 1));
    x = bf16Mat(bf16Mat(x.scale(a)).combine(1, bf16Mat(B.matmul(x)), 1));
  }
  return transposed ? x.t() : x;
}

/**
 * Keller's `zeropower_via_newtonschulz5` on one matrix, in float64:
 * if rows > cols work on Xᵀ; X ← X/(‖X‖_F + eps); N× { A = X·Xᵀ; B = b·A + c·A·A; X ← a·X + B·X }.
 */
export function newtonSchulz(g: Mat, options: RefNsOptions = {}): Mat {
  const steps = options.steps ?? 5;
  const coefficients = options.coefficients ?? KELLER_ABC;
  const perStep = (i: number): Abc =>
    typeof coefficients[0] === 'number' ? (coefficients as Abc) : (coefficients as readonly Abc[])[Math.min(i, coefficients.length - 1)]!;
  const eps = options.epsilon ?? 1e-7;
  if (options.precision === 'bf16') return newtonSchulzBf16(g, steps, perStep, eps);
  const transposed = g.rows > g.cols;
  let x = transposed ? g.t() : g;
  x = x.scale(1 / (x.frobenius() + eps));
  for (let i = 0; i < steps; i++) {
    const [a, b, c] = perStep(i);
    const A = x.matmul(x.t());
    const B = A.combine(b, A.matmul(A), c);
    x = x.combine(a, B.matmul(x), 1);
  }
  return transposed ? x.t() : x;
}

/** Matrices of a rank-2 or rank-3 row-major array: [rows, cols] or [E, rows, cols]. */
export function splitMatrices(data: Float64Array, shape: readonly number[]): Mat[] {
  if (shape.length !== 2 && shape.length !== 3) throw new Error(`splitMatrices: shape [${shape}]`);
  const rows = shape[shape.length - 2]!;
  const cols = shape[shape.length - 1]!;
  const count = shape.length === 3 ? shape[0]! : 1;
  const n = rows * cols;
  return Array.from({ length: count }, (_, e) => new Mat(rows, cols, data.slice(e * n, (e + 1) * n)));
}

export function joinMatrices(mats: readonly Mat[]): Float64Array {
  const n = mats[0]!.data.length;
  const out = new Float64Array(n * mats.length);
  mats.forEach((m, e) => out.set(m.data, e * n));
  return out;
}

// ------------------------------------------------------------------ symmetric eigenvalues (Jacobi)

/** Eigenvalues of a symmetric matrix by cyclic Jacobi rotations (float64), ascending. */
export function symmetricEigenvalues(m: Mat): number[] {
  const n = m.rows;
  if (m.cols !== n) throw new Error('symmetricEigenvalues: square matrix required');
  const a = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => 0.5 * (m.get(i, j) + m.get(j, i))));
  const scaleRef = m.frobenius() || 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p]![q]! ** 2;
    if (Math.sqrt(off) <= 1e-15 * scaleRef) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p]![q]!;
        if (apq === 0) continue;
        const app = a[p]![p]!;
        const aqq = a[q]![q]!;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k]![p]!;
          const akq = a[k]![q]!;
          a[k]![p] = c * akp - s * akq;
          a[k]![q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p]![k]!;
          const aqk = a[q]![k]!;
          a[p]![k] = c * apk - s * aqk;
          a[q]![k] = s * apk + c * aqk;
        }
      }
    }
  }
  return a.map((row, i) => row[i]!).sort((x, y) => x - y);
}

/** Singular values (ascending) of a matrix via the eigenvalues of its smaller Gram matrix. */
export function singularValues(m: Mat): number[] {
  const gram = m.rows <= m.cols ? m.matmul(m.t()) : m.t().matmul(m);
  return symmetricEigenvalues(gram).map((l) => Math.sqrt(Math.max(0, l)));
}

// ------------------------------------------------------------------ reference optimizers

export interface RefOptimizer {
  /** One step for one parameter (tfjs layout); updates `theta` in place. */
  step(name: string, shape: readonly number[], theta: Float64Array, grad: Float64Array): void;
}

export interface RefAdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
}

interface AdamState {
  t: number;
  m: Float64Array;
  v: Float64Array;
  vMax: Float64Array;
}

/** The shared body of torch.optim.Adam / AdamW (`_single_tensor_adam`). */
class AdamBase implements RefOptimizer {
  private readonly state = new Map<string, AdamState>();
  constructor(
    readonly o: RefAdamOptions,
    private readonly decoupled: boolean,
  ) {}

  step(name: string, _shape: readonly number[], theta: Float64Array, grad: Float64Array): void {
    const { lr, beta1, beta2, eps, weightDecay, amsgrad } = this.o;
    let st = this.state.get(name);
    if (!st) {
      const n = theta.length;
      st = { t: 0, m: new Float64Array(n), v: new Float64Array(n), vMax: new Float64Array(n) };
      this.state.set(name, st);
    }
    st.t += 1;
    const g = Float64Array.from(grad);
    if (weightDecay !== 0) {
      if (this.decoupled) for (let i = 0; i < theta.length; i++) theta[i] = theta[i]! * (1 - lr * weightDecay);
      else for (let i = 0; i < g.length; i++) g[i] = g[i]! + weightDecay * theta[i]!;
    }
    const bc1 = 1 - beta1 ** st.t;
    const bc2 = 1 - beta2 ** st.t;
    const stepSize = lr / bc1;
    const bc2Sqrt = Math.sqrt(bc2);
    for (let i = 0; i < theta.length; i++) {
      st.m[i] = st.m[i]! + (g[i]! - st.m[i]!) * (1 - beta1); // exp_avg.lerp_(grad, 1 − β₁)
      st.v[i] = st.v[i]! * beta2 + (1 - beta2) * g[i]! * g[i]!;
      let v = st.v[i]!;
      if (amsgrad) {
        st.vMax[i] = Math.max(st.vMax[i]!, v);
        v = st.vMax[i]!;
      }
      const denom = Math.sqrt(v) / bc2Sqrt + eps;
      theta[i] = theta[i]! - (stepSize * st.m[i]!) / denom;
    }
  }
}

export const TORCH_ADAMW_DEFAULTS: RefAdamOptions = {
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 1e-2,
  amsgrad: false,
};

/** torch.optim.AdamW: θ ← θ·(1 − lr·wd), then the Adam step. */
export class RefAdamW extends AdamBase {
  constructor(o: Partial<RefAdamOptions> = {}) {
    super({ ...TORCH_ADAMW_DEFAULTS, ...o }, true);
  }
}

/** torch.optim.Adam: weight decay is L2 (added to the gradient). Default wd 0. */
export class RefAdam extends AdamBase {
  constructor(o: Partial<RefAdamOptions> = {}) {
    super({ ...TORCH_ADAMW_DEFAULTS, weightDecay: 0, ...o }, false);
  }
}

export interface RefSgdOptions {
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
}

/** torch.optim.SGD with dampening 0: the buffer starts as a copy of the first d_p. */
export class RefSGD implements RefOptimizer {
  private readonly buffers = new Map<string, Float64Array>();
  constructor(readonly o: RefSgdOptions) {}

  step(name: string, _shape: readonly number[], theta: Float64Array, grad: Float64Array): void {
    const { lr, momentum, nesterov, weightDecay } = this.o;
    const d = Float64Array.from(grad, (g, i) => g + weightDecay * theta[i]!);
    if (momentum !== 0) {
      let buf = this.buffers.get(name);
      if (!buf) {
        buf = Float64Array.from(d);
        this.buffers.set(name, buf);
      } else {
        for (let i = 0; i < d.length; i++) buf[i] = momentum * buf[i]! + d[i]!;
      }
      for (let i = 0; i < d.length; i++) d[i] = nesterov ? d[i]! + momentum * buf[i]! : buf[i]!;
    }
    for (let i = 0; i < theta.length; i++) theta[i] = theta[i]! - lr * d[i]!;
  }
}

export interface RefMuonOptions {
  lr: number;
  momentum: number;
  nesterov: boolean;
  nsSteps: number;
  nsCoefficients: Abc | readonly Abc[];
  weightDecay: number;
  lrAdjust: 'original' | 'match_rms_adamw';
  /**
   * NorMuon (docs/references.md#muon): after NS, divide each output neuron's row (torch layout) by the root of
   * an EMA (β₂) of its mean square plus eps, then rescale to the pre-normalisation Frobenius norm.
   */
  neuronNorm: { beta2: number; eps: number } | null;
  /**
   * 'bf16': NS on `G.bfloat16()` (newtonSchulzBf16), and Keller's in-place shape scale
   * `update *= max(1, A/B)**0.5` on that bf16 tensor rounds its result to bf16 too.
   */
  nsPrecision: 'fp32' | 'bf16';
  /** true: the parameter goes to the internal AdamW (besides rank < 2). */
  exclude: ((name: string, shape: readonly number[]) => boolean) | null;
  adamw: RefAdamOptions;
}

/** Keller's MuonWithAuxAdam defaults for the non-matrix group. */
export const KELLER_AUX_ADAMW: RefAdamOptions = {
  lr: 3e-4,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-10,
  weightDecay: 0,
  amsgrad: false,
};

export const KELLER_MUON_DEFAULTS: Omit<RefMuonOptions, 'adamw'> = {
  lr: 0.02,
  momentum: 0.95,
  nesterov: true,
  nsSteps: 5,
  nsCoefficients: KELLER_ABC,
  weightDecay: 0,
  lrAdjust: 'original',
  exclude: null,
  neuronNorm: null,
  nsPrecision: 'fp32',
};

/**
 * Keller Muon with an auxiliary AdamW, torch semantics. For each matrix (each expert of a bank)
 * the tfjs [fan_in, fan_out] block is transposed to torch's [out, in] = [fan_out, fan_in]; then
 *   momentum.lerp_(grad, 1 − β); update = nesterov ? grad.lerp_(momentum, β) : momentum
 *   update = NS5(update) · max(1, size(-2)/size(-1))^0.5            ('original')
 *   p.mul_(1 − lr·wd); p.add_(update, alpha = −lr)
 * or with 'match_rms_adamw' (torch.optim.Muon): adjusted_lr = lr·0.2·sqrt(max(A, B)), decay with lr.
 */
export class RefMuon implements RefOptimizer {
  readonly o: RefMuonOptions;
  readonly aux: RefAdamW;
  private readonly momentum = new Map<string, Mat[]>();
  private readonly neuronMoments = new Map<string, Float64Array[]>();

  constructor(o: Partial<Omit<RefMuonOptions, 'adamw'>> & { adamw?: Partial<RefAdamOptions> } = {}) {
    const adamw = { ...KELLER_AUX_ADAMW, ...(o.adamw ?? {}) };
    this.o = { ...KELLER_MUON_DEFAULTS, ...o, adamw };
    this.aux = new RefAdamW(adamw);
  }

  usesMuon(name: string, shape: readonly number[]): boolean {
    if (shape.length < 2) return false;
    return !(this.o.exclude?.(name, shape) ?? false);
  }

  step(name: string, shape: readonly number[], theta: Float64Array, grad: Float64Array): void {
    if (!this.usesMuon(name, shape)) {
      this.aux.step(name, shape, theta, grad);
      return;
    }
    const { lr, momentum: beta, nesterov, nsSteps, nsCoefficients, weightDecay, lrAdjust, neuronNorm, nsPrecision } = this.o;
    // tfjs [.., fan_in, fan_out] → torch [.., out, in]
    const thetaT = splitMatrices(theta, shape).map((m) => m.t());
    const gradT = splitMatrices(grad, shape).map((m) => m.t());
    let bufs = this.momentum.get(name);
    if (!bufs) {
      bufs = gradT.map((g) => new Mat(g.rows, g.cols));
      this.momentum.set(name, bufs);
    }
    let moments = this.neuronMoments.get(name);
    if (!moments) {
      moments = gradT.map((g) => new Float64Array(g.rows));
      this.neuronMoments.set(name, moments);
    }
    const out = thetaT.map((p, e) => {
      const g = gradT[e]!;
      const m = bufs[e]!;
      for (let i = 0; i < m.data.length; i++) m.data[i] = m.data[i]! + (g.data[i]! - m.data[i]!) * (1 - beta);
      const update = nesterov ? g.combine(1, m.combine(1, g, -1), beta) : m; // grad + β(m − grad)
      let x = newtonSchulz(update, { steps: nsSteps, coefficients: nsCoefficients, precision: nsPrecision });
      if (neuronNorm) x = normalizeRows(x, moments[e]!, neuronNorm.beta2, neuronNorm.eps);
      const [A, B] = [p.rows, p.cols]; // torch size(-2), size(-1) = out, in
      const shapeScale = lrAdjust === 'original' ? Math.sqrt(Math.max(1, A / B)) : 0.2 * Math.sqrt(Math.max(A, B));
      if (nsPrecision === 'bf16') return p.scale(1 - lr * weightDecay).combine(1, bf16Mat(x.scale(shapeScale)), -lr);
      return p.scale(1 - lr * weightDecay).combine(1, x, -lr * shapeScale);
    });
    theta.set(joinMatrices(out.map((m) => m.t())));
  }
}

/** NorMuon's per-output-neuron normalisation on a torch-layout [out, in] matrix (rows = neurons). */
function normalizeRows(x: Mat, v: Float64Array, beta2: number, eps: number): Mat {
  const out = new Mat(x.rows, x.cols);
  for (let i = 0; i < x.rows; i++) {
    let ms = 0;
    for (let j = 0; j < x.cols; j++) ms += x.get(i, j) ** 2;
    ms /= x.cols;
    v[i] = beta2 * v[i]! + (1 - beta2) * ms;
    const d = Math.sqrt(v[i]!) + eps;
    for (let j = 0; j < x.cols; j++) out.set(i, j, x.get(i, j) / d);
  }
  return out.scale(x.frobenius() / (out.frobenius() + eps));
}

// ------------------------------------------------------------------ Lion

export interface RefLionOptions {
  lr: number;
  beta1: number;
  beta2: number;
  weightDecay: number;
}

/** google/automl `lion/lion_pytorch.py` defaults. */
export const LION_DEFAULTS: RefLionOptions = { lr: 1e-4, beta1: 0.9, beta2: 0.99, weightDecay: 0 };

/**
 * Lion as the official PyTorch code (google/automl `lion/lion_pytorch.py`, Chen et al. 2023):
 *   p.mul_(1 − lr·wd); update = exp_avg·β₁ + grad·(1 − β₁); p.add_(sign(update), alpha = −lr);
 *   exp_avg.mul_(β₂).add_(grad, alpha = 1 − β₂)
 */
export class RefLion implements RefOptimizer {
  readonly o: RefLionOptions;
  private readonly expAvg = new Map<string, Float64Array>();
  constructor(o: Partial<RefLionOptions> = {}) {
    this.o = { ...LION_DEFAULTS, ...o };
  }

  step(name: string, _shape: readonly number[], theta: Float64Array, grad: Float64Array): void {
    const { lr, beta1, beta2, weightDecay } = this.o;
    let m = this.expAvg.get(name);
    if (!m) {
      m = new Float64Array(theta.length);
      this.expAvg.set(name, m);
    }
    for (let i = 0; i < theta.length; i++) {
      theta[i] = theta[i]! * (1 - lr * weightDecay);
      const update = m[i]! * beta1 + grad[i]! * (1 - beta1);
      theta[i] = theta[i]! - lr * Math.sign(update);
      m[i] = m[i]! * beta2 + grad[i]! * (1 - beta2);
    }
  }
}
