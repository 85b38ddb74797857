/**
 * Pluggable loss-spike detectors (docs/references.md#loss-spikes), adapted to small-model training where the
 * minibatch loss is far noisier than an LLM's, so every threshold is relative to recent history.
 *
 * Shared rules:
 * - A flagged value never enters the detector's statistics. Otherwise a spike inflates the rolling
 *   median/mean/std it is compared against, and the next spike a few steps later is masked. The
 *   price: after a lasting jump in level the old statistics would flag every later step, so a
 *   flagged run as long as their memory (window, or ≈ 1/(1−α) steps) restarts them from the new
 *   level; the shift still counts as one event.
 * - Non-finite values are never spikes and never enter the statistics: divergence is counted
 *   apart. Each detector looks only at its own signal, so a run that logs NaN for an unmeasured
 *   grad norm still gets loss spikes.
 * - No flag before the detector holds `warmup` accepted values.
 */

export interface StepSignal {
  readonly step: number;
  readonly loss: number;
  readonly gradNorm: number;
}

export interface SpikeDetector {
  readonly name: string;
  /** Returns true when this step is flagged. */
  observe(s: StepSignal): boolean;
  reset(): void;
}

export type DetectorSpec =
  /** loss − median(last `window` losses) > threshold·|median|: relative form of the Qwen rolling-median rule. */
  | { kind: 'rollingMedian'; name?: string; window?: number; threshold?: number; minJump?: number; warmup?: number }
  /** OLMo-style: (loss − rolling mean) / rolling std > sigma. */
  | { kind: 'zscore'; name?: string; window?: number; sigma?: number; minJump?: number; warmup?: number }
  /** ZClip-style: EMA mean/variance of the grad norm, spike when its z-score > z. */
  | { kind: 'gradNormEma'; name?: string; alpha?: number; z?: number; warmup?: number };

/**
 * Both loss detectors also require the loss to rise at least `minJump` = 0.1 above its reference:
 * Qwen3.8-Next's absolute threshold, kept as a floor. Near zero loss (an MNIST MLP trained to
 * 0.005) minibatch losses are heavy-tailed, and a relative or σ-based rule alone then flags
 * harmless 0.01 → 0.05 wiggles by the hundred per 1k steps (seen in the first full study).
 */
const MIN_JUMP_DEFAULT = 0.1;

/**
 * Rolling median: `window` 50, `threshold` 2 (flag a loss above 3× the median), `warmup` 20.
 * Qwen3.8-Next flags a loss more than 0.1 above its 201-step rolling median. At an LLM's loss of
 * ≈ 2 that is a ≈ 5 % excursion; a batch-64 mean of per-example cross-entropies spreads by 20–50 %
 * (coefficient of variation) late in a small run, right-skewed, so the rule must be relative and
 * much looser. On simulated batch-64 cross-entropy curves of 3000 steps LLM Foundry's outlier
 * factor, 2×, fired 8 times at a 30 % spread and ≈ 120 at 50 %; 3× fired none and ≈ 9. 201 steps
 * would be two thirds of a 300-step run: 50 keeps the median near a curve that is still falling
 * (lag only makes it more conservative), and 20 values already give a median one outlier barely moves.
 * The rule ignores the noise level, so near zero loss (spread ≳ 50 %) it would over-flag
 * without the absolute floor (MIN_JUMP_DEFAULT).
 */
const ROLLING_MEDIAN_DEFAULTS = { window: 50, threshold: 2, minJump: MIN_JUMP_DEFAULT, warmup: 20 } as const;


/**
 * Rolling z-score: `window` 100, `sigma` 7, `warmup` 50.
 * OLMo 2 counts values ≥ 7σ from the mean of the last 1000. The 7σ carries over: σ is measured,
 * so the rule adapts to each run's noise, and 7 kept simulated batch-64/128 cross-entropy and MSE
 * curves of 3000 steps at ≤ 1 flag up to a 50 % spread despite skewed minibatch losses (a few
 * flags only for extremely heavy-tailed ones). The window does
 * not: 1000 steps is a third of our longest runs and longer than the shortest, and on a falling
 * curve a long window's σ is dominated by the trend. 100 values estimate σ to ≈ 7 %, and 50
 * before the first flag keep that estimate from resting on a handful of points.
 */
const ZSCORE_DEFAULTS = { window: 100, sigma: 7, minJump: MIN_JUMP_DEFAULT, warmup: 50 } as const;

/**
 * Grad-norm EMA: `alpha` 0.97, `z` 5, `warmup` 25.
 * ZClip keeps an EMA mean and variance of the grad norm with α = 0.97 after 25 warm-up steps and
 * clips when z > 2.5. α and the warm-up carry over (a ≈ 33-step memory suits 300–3000-step runs),
 * but 2.5 is a clipping threshold that fires on ≈ 1 % of steps by design — harmless for clipping,
 * useless as a count of rare events (50–130 per 3000 simulated steps). The EMA variance is noisy
 * (≈ 65 effective samples) and grad norms are right-skewed; z = 5 left simulated runs of 3000
 * steps at ≤ 1 flag for grad-norm spreads up to 20 % (≈ 3 at 30 %), while a doubled grad norm is
 * still ≥ 5σ when its spread is ≤ 20 %.
 */
const GRAD_NORM_EMA_DEFAULTS = { alpha: 0.97, z: 5, warmup: 25 } as const;

export const DEFAULT_DETECTORS: readonly DetectorSpec[] = [
  { kind: 'rollingMedian', name: 'median' },
  { kind: 'zscore', name: 'zscore' },
  { kind: 'gradNormEma', name: 'gradnorm' },
];

const M = ROLLING_MEDIAN_DEFAULTS;
const Z = ZSCORE_DEFAULTS;
const G = GRAD_NORM_EMA_DEFAULTS;

/** Markdown bullet list of the default detectors and why, for the README. */
export const DETECTOR_DEFAULTS_DOC = [
  `- **median**: loss > ${1 + M.threshold}× the median of the last ${M.window} losses and at least ${M.minJump} above it (flags after ${M.warmup}). ` +
    `Relative form of Qwen3.8-Next's "0.1 above the 201-step median": 0.1 is ≈ 5 % of an LLM's loss but far ` +
    `inside the 20–50 % spread of a batch-64 loss here, where even 2× (LLM Foundry's outlier factor) fires ` +
    `often; a ${M.window}-step window tracks a still-falling curve in a 300–3000-step run. Blind to the noise ` +
    `level on its own; the floor below keeps it quiet near zero loss.`,
  `- **zscore**: (loss − mean) / std > ${Z.sigma} over the last ${Z.window} losses and loss − mean > ${Z.minJump} (flags after ${Z.warmup}). ` +
    `OLMo 2's 7σ, which adapts to each run's noise; its 1000-value window is most of a run here and would ` +
    `mostly measure the downward trend.`,
  `- **gradnorm**: grad-norm z-score > ${G.z} against an EMA mean and variance (α = ${G.alpha}, ` +
    `${G.warmup} warm-up steps), ZClip's α and warm-up. ZClip's z > 2.5 is a clipping threshold that fires on ` +
    `≈ 1 % of steps by design, too often to count rare events.`,
  `- The ${M.minJump} floor on both loss rules is Qwen3.8-Next's absolute threshold: near zero loss, minibatch losses are ` +
    `heavy-tailed and relative or σ rules alone flag harmless 0.01 → 0.05 wiggles by the hundred per 1k steps.`,
  `- Flagged values never enter the statistics, so one spike cannot mask the next; a flagged run as long as ` +
    `the statistics' memory is taken as a new level and they restart. Non-finite values are never spikes ` +
    `(divergence is counted apart). A run of consecutive flagged steps is one event.`,
].join('\n');

/** One detector's rule with every setting resolved, in a line (a study task's own settings, in its report). */
export function describeDetector(d: DetectorSpec): string {
  const floor = (minJump: number, rise: string) => (minJump > 0 ? ` and ${rise} > ${minJump}` : ', no absolute floor');
  switch (d.kind) {
    case 'rollingMedian': {
      const c = { ...M, ...d };
      return `${c.name ?? DEFAULT_NAMES.rollingMedian}: loss above the median of the last ${c.window} losses by more than ${c.threshold}× that median${floor(c.minJump, 'loss − median')} (flags after ${c.warmup})`;
    }
    case 'zscore': {
      const c = { ...Z, ...d };
      return `${c.name ?? DEFAULT_NAMES.zscore}: (loss − mean) / std > ${c.sigma} over the last ${c.window} losses${floor(c.minJump, 'loss − mean')} (flags after ${c.warmup})`;
    }
    case 'gradNormEma': {
      const c = { ...G, ...d };
      return `${c.name ?? DEFAULT_NAMES.gradNormEma}: grad-norm z-score > ${c.z} against an EMA mean and variance (α = ${c.alpha}, ${c.warmup} warm-up steps)`;
    }
  }
}

/**
 * Below this std relative to the mean, the std is treated as this: a perfectly flat signal would
 * otherwise make any rounding-level wiggle an infinite z-score.
 */
const MIN_REL_STD = 1e-3;

function sdFloor(sd: number, mean: number): number {
  return Math.max(sd, MIN_REL_STD * Math.abs(mean), Number.MIN_VALUE);
}

/** Index of the first element ≥ x in an ascending array. */
function lowerBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The last `size` accepted values, in arrival order (to evict) and sorted (for the median): O(size) per push. */
class RollingWindow {
  private readonly fifo: number[] = [];
  private readonly sorted: number[] = [];

  constructor(readonly size: number) {}

  get length(): number {
    return this.fifo.length;
  }

  push(x: number): void {
    if (this.fifo.length === this.size) {
      const old = this.fifo.shift()!;
      this.sorted.splice(lowerBound(this.sorted, old), 1);
    }
    this.fifo.push(x);
    this.sorted.splice(lowerBound(this.sorted, x), 0, x);
  }

  median(): number {
    const n = this.sorted.length;
    const m = n >>> 1;
    return n % 2 === 1 ? this.sorted[m]! : (this.sorted[m - 1]! + this.sorted[m]!) / 2;
  }

  /** Mean and sample standard deviation (two passes: the window is small and this avoids cancellation). */
  meanStd(): { mean: number; std: number } {
    const n = this.fifo.length;
    let sum = 0;
    for (const v of this.fifo) sum += v;
    const mean = sum / n;
    let ss = 0;
    for (const v of this.fifo) ss += (v - mean) ** 2;
    return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0 };
  }

  clear(): void {
    this.fifo.length = 0;
    this.sorted.length = 0;
  }
}

function check(ok: boolean, name: string, what: string, value: number): void {
  if (!ok) throw new Error(`spike detector ${name}: ${what}, got ${value}`);
}

function checkWindow(name: string, window: number, warmup: number): void {
  check(Number.isInteger(window) && window >= 3, name, 'window must be an integer ≥ 3', window);
  check(Number.isInteger(warmup) && warmup >= 2 && warmup <= window, name, `warmup must be an integer in [2, ${window}]`, warmup);
}

/** Each detector kind's default name: the key of its counts in a run's summary and records. */
export const DEFAULT_NAMES = { rollingMedian: 'median', zscore: 'zscore', gradNormEma: 'gradnorm' } as const;

/** The statistics of one detector over the values it has accepted. */
interface Stats {
  ready(): boolean;
  isSpike(x: number): boolean;
  accept(x: number): void;
  clear(): void;
}

/**
 * The rules shared by every detector (see the file comment). `memory` is how many steps the
 * statistics remember: a flagged run that long is a new level rather than a spike, and since
 * flagged values are kept out, the old statistics would flag it forever — so they restart from it.
 */
function detector(name: string, signal: (s: StepSignal) => number, memory: number, stats: Stats): SpikeDetector {
  let run = 0;
  return {
    name,
    observe(s) {
      const x = signal(s);
      if (!Number.isFinite(x)) return false;
      if (stats.ready() && stats.isSpike(x)) {
        if (++run >= memory) {
          stats.clear();
          run = 0;
        }
        return true;
      }
      run = 0;
      stats.accept(x);
      return false;
    },
    reset() {
      stats.clear();
      run = 0;
    },
  };
}

const lossOf = (s: StepSignal): number => s.loss;

export function createDetector(spec: DetectorSpec): SpikeDetector {
  const name = spec.name ?? DEFAULT_NAMES[spec.kind];
  switch (spec.kind) {
    case 'rollingMedian': {
      const window = spec.window ?? ROLLING_MEDIAN_DEFAULTS.window;
      const threshold = spec.threshold ?? ROLLING_MEDIAN_DEFAULTS.threshold;
      const minJump = spec.minJump ?? ROLLING_MEDIAN_DEFAULTS.minJump;
      const warmup = spec.warmup ?? ROLLING_MEDIAN_DEFAULTS.warmup;
      checkWindow(name, window, warmup);
      check(threshold > 0, name, 'threshold must be > 0', threshold);
      check(minJump >= 0, name, 'minJump must be ≥ 0', minJump);
      const win = new RollingWindow(window);
      return detector(name, lossOf, window, {
        ready: () => win.length >= warmup,
        // |median| keeps the rule meaningful for a loss that can be negative.
        isSpike: (x) => {
          const median = win.median();
          return x - median > Math.max(threshold * Math.abs(median), minJump);
        },
        accept: (x) => win.push(x),
        clear: () => win.clear(),
      });
    }
    case 'zscore': {
      const window = spec.window ?? ZSCORE_DEFAULTS.window;
      const sigma = spec.sigma ?? ZSCORE_DEFAULTS.sigma;
      const minJump = spec.minJump ?? ZSCORE_DEFAULTS.minJump;
      const warmup = spec.warmup ?? ZSCORE_DEFAULTS.warmup;
      checkWindow(name, window, warmup);
      check(sigma > 0, name, 'sigma must be > 0', sigma);
      check(minJump >= 0, name, 'minJump must be ≥ 0', minJump);
      const win = new RollingWindow(window);
      return detector(name, lossOf, window, {
        ready: () => win.length >= warmup,
        isSpike: (x) => {
          const { mean, std } = win.meanStd();
          return (x - mean) / sdFloor(std, mean) > sigma && x - mean > minJump;
        },
        accept: (x) => win.push(x),
        clear: () => win.clear(),
      });
    }
    case 'gradNormEma': {
      const alpha = spec.alpha ?? GRAD_NORM_EMA_DEFAULTS.alpha;
      const z = spec.z ?? GRAD_NORM_EMA_DEFAULTS.z;
      const warmup = spec.warmup ?? GRAD_NORM_EMA_DEFAULTS.warmup;
      check(alpha > 0 && alpha < 1, name, 'alpha must be in (0, 1)', alpha);
      check(z > 0, name, 'z must be > 0', z);
      check(Number.isInteger(warmup) && warmup >= 2, name, 'warmup must be an integer ≥ 2', warmup);
      // As in ZClip: the first `warmup` norms seed the mean and variance, then both follow an EMA.
      const seed: number[] = [];
      let mean = 0;
      let variance = 0;
      return detector(name, (s) => s.gradNorm, Math.max(warmup, Math.round(1 / (1 - alpha))), {
        ready: () => seed.length >= warmup,
        isSpike: (g) => (g - mean) / sdFloor(Math.sqrt(variance), mean) > z,
        accept(g) {
          if (seed.length < warmup) {
            seed.push(g);
            if (seed.length === warmup) {
              mean = seed.reduce((a, b) => a + b, 0) / warmup;
              variance = seed.reduce((a, b) => a + (b - mean) ** 2, 0) / (warmup - 1);
            }
            return;
          }
          mean = alpha * mean + (1 - alpha) * g;
          variance = alpha * variance + (1 - alpha) * (g - mean) ** 2;
        },
        clear() {
          seed.length = 0;
          mean = 0;
          variance = 0;
        },
      });
    }
  }
}

export interface SpikeCount {
  /** Maximal runs of consecutive flagged observations: a 3-step spike counts once. */
  readonly events: number;
  readonly flaggedSteps: number;
  readonly firstStep: number | null;
}

/** Runs several detectors online and counts their events. */
export class SpikeTracker {
  private readonly detectors: SpikeDetector[];
  private readonly state = new Map<string, { events: number; flaggedSteps: number; firstStep: number | null; inRun: boolean }>();

  constructor(specs: readonly DetectorSpec[]) {
    this.detectors = specs.map(createDetector);
    for (const d of this.detectors) {
      if (this.state.has(d.name)) throw new Error(`duplicate spike detector name ${JSON.stringify(d.name)}`);
      this.state.set(d.name, { events: 0, flaggedSteps: 0, firstStep: null, inRun: false });
    }
  }

  /** Names of the detectors that flagged this step. Consecutive means consecutive observations. */
  observe(s: StepSignal): string[] {
    const flagged: string[] = [];
    for (const d of this.detectors) {
      const st = this.state.get(d.name)!;
      if (d.observe(s)) {
        flagged.push(d.name);
        if (!st.inRun) st.events++;
        st.flaggedSteps++;
        st.firstStep ??= s.step;
        st.inRun = true;
      } else {
        st.inRun = false;
      }
    }
    return flagged;
  }

  counts(): Record<string, SpikeCount> {
    const out: Record<string, SpikeCount> = {};
    for (const [name, { events, flaggedSteps, firstStep }] of this.state) out[name] = { events, flaggedSteps, firstStep };
    return out;
  }
}

export function countSpikes(specs: readonly DetectorSpec[], signals: readonly StepSignal[]): Record<string, SpikeCount> {
  const tracker = new SpikeTracker(specs);
  for (const s of signals) tracker.observe(s);
  return tracker.counts();
}
