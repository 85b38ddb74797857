/**
 * Muon against the float64 Keller-Muon reference (docs/references.md#muon), which works in torch's [out, in]
 * layout and maps back, so a layout slip in the shape scale shows up on [8,16] vs [16,8].
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Muon, MuonCubic, NorMuon, initBackend, routesToMuon } from '../../src/index.js';
import { printObserved, record, runTrajectory, uniquePrefix, type AnyOptimizer, type ParamSpec } from './harness.js';
import { RefMuon } from './reference.js';

const TOL = 2e-4;
/** Parameters routed to the internal AdamW move less; hold them to AdamW's tolerance. */
const ADAMW_TOL = 2e-5;

beforeAll(async () => {
  await initBackend();
});
afterAll(() => printObserved('muon'));

type MuonInput = ConstructorParameters<typeof Muon>[0];
type RefInput = ConstructorParameters<typeof RefMuon>[0];

interface Case {
  label: string;
  options: MuonInput;
  ref: RefInput;
  /** Parameter shapes by short name (the test prefixes them). */
  params: Record<string, number[]>;
  /** Short names the reference must send to AdamW (checked against the optimizer's routing). */
  toAdamw?: string[];
}

const cases: Case[] = [
  { label: 'defaults (nesterov, original) [8,16]', options: {}, ref: {}, params: { w: [8, 16] } },
  { label: 'nesterov off [8,16]', options: { nesterov: false }, ref: { nesterov: false }, params: { w: [8, 16] } },
  { label: 'original scale, wide kernel [8,16]', options: { lrAdjust: 'original' }, ref: { lrAdjust: 'original' }, params: { w: [8, 16] } },
  { label: 'original scale, tall kernel [16,8]', options: { lrAdjust: 'original' }, ref: { lrAdjust: 'original' }, params: { w: [16, 8] } },
  {
    label: 'match_rms_adamw [8,16]',
    options: { lrAdjust: 'match_rms_adamw' },
    ref: { lrAdjust: 'match_rms_adamw' },
    params: { w: [8, 16] },
  },
  {
    label: 'match_rms_adamw [16,8]',
    options: { lrAdjust: 'match_rms_adamw' },
    ref: { lrAdjust: 'match_rms_adamw' },
    params: { w: [16, 8] },
  },
  {
    label: 'weightDecay 0.1, match_rms_adamw, lr 0.01 [16,8]',
    options: { weightDecay: 0.1, lrAdjust: 'match_rms_adamw', learningRate: 0.01 },
    ref: { weightDecay: 0.1, lrAdjust: 'match_rms_adamw', lr: 0.01 },
    params: { w: [16, 8] },
  },
  {
    label: 'weightDecay 0.5, original [8,16]',
    options: { weightDecay: 0.5 },
    ref: { weightDecay: 0.5 },
    params: { w: [8, 16] },
  },
  { label: 'expert bank [3,6,10]', options: {}, ref: {}, params: { experts: [3, 6, 10] } },
  {
    label: 'expert bank [3,10,6], match_rms_adamw, nesterov off',
    options: { lrAdjust: 'match_rms_adamw', nesterov: false },
    ref: { lrAdjust: 'match_rms_adamw', nesterov: false },
    params: { experts: [3, 10, 6] },
  },
  {
    label: 'bias [10] to internal AdamW (Keller defaults)',
    options: {},
    ref: {},
    params: { w: [8, 16], bias: [10] },
    toAdamw: ['bias'],
  },
  {
    label: 'bias [10] to internal AdamW (configured adamw option)',
    options: { adamw: { learningRate: 1e-3, beta1: 0.8, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.1, amsgrad: true } },
    ref: { adamw: { lr: 1e-3, beta1: 0.8, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, amsgrad: true } },
    params: { bias: [10], gain: [6] },
    toAdamw: ['bias', 'gain'],
  },
  {
    label: 'exclude as a regex string sends a matrix to AdamW',
    options: { exclude: 'embed' },
    ref: { exclude: (name) => /embed/.test(name) },
    params: { w: [8, 16], embedding: [12, 8] },
    toAdamw: ['embedding'],
  },
  {
    label: 'exclude as a predicate sends a matrix to AdamW',
    options: { exclude: (_name: string, shape: readonly number[]) => shape[shape.length - 1] === 3 },
    ref: { exclude: (_name, shape) => shape[shape.length - 1] === 3 },
    params: { w: [8, 16], head: [16, 3], experts: [3, 6, 10] },
    toAdamw: ['head'],
  },
];

describe('Muon trajectory vs Keller Muon reference (30 steps)', () => {
  for (const c of cases) {
    it(c.label, () => {
      const p = uniquePrefix('muon');
      const params: ParamSpec[] = Object.entries(c.params).map(([k, shape]) => ({ name: `${p}${k}`, shape }));
      const opt = new Muon(c.options);
      const ref = new RefMuon(c.ref);
      // The routing under test agrees with the reference's (and with what the case expects).
      for (const [k, shape] of Object.entries(c.params)) {
        const toAdamw = (c.toAdamw ?? []).includes(k);
        expect(ref.usesMuon(`${p}${k}`, shape)).toBe(!toAdamw);
        expect(opt.groupOf({ name: `${p}${k}`, shape })).toBe(toAdamw ? 'adamw' : 'muon');
      }
      const res = runTrajectory(opt, ref, params);
      opt.dispose();
      for (const [k, shape] of Object.entries(c.params)) {
        const name = `${p}${k}`;
        const tol = ref.usesMuon(name, shape) ? TOL : ADAMW_TOL;
        record(`Muon ${c.label} :: ${k}`, res.maxError[name]!);
        expect(res.maxError[name]!).toBeLessThanOrEqual(tol);
        expect(res.moved[name]!).toBeGreaterThan(20 * tol);
      }
    });
  }
});

describe('Muon variants vs the reference', () => {
  const variants: { label: string; make: () => AnyOptimizer; ref: RefInput; shapes: Record<string, number[]> }[] = [
    { label: 'Muon nsSteps 3', make: () => new Muon({ nsSteps: 3 }), ref: { nsSteps: 3 }, shapes: { w: [8, 16] } },
    {
      label: 'MuonCubic defaults (12 cubic steps)',
      make: () => new MuonCubic(),
      ref: { nsSteps: 12, nsCoefficients: [1.5, -0.5, 0] },
      shapes: { w: [16, 8], experts: [3, 6, 10], b: [10] },
    },
    {
      label: 'NorMuon defaults',
      make: () => new NorMuon(),
      ref: { neuronNorm: { beta2: 0.95, eps: 1e-8 } },
      shapes: { w: [8, 16], tall: [16, 8], experts: [3, 6, 10], b: [10] },
    },
    {
      label: 'NorMuon beta2 0.5, match_rms_adamw',
      make: () => new NorMuon({ beta2: 0.5, lrAdjust: 'match_rms_adamw' }),
      ref: { neuronNorm: { beta2: 0.5, eps: 1e-8 }, lrAdjust: 'match_rms_adamw' },
      shapes: { w: [8, 16], experts: [3, 10, 6] },
    },
  ];
  for (const v of variants) {
    it(v.label, () => {
      const p = uniquePrefix('variant');
      const params: ParamSpec[] = Object.entries(v.shapes).map(([k, shape]) => ({ name: `${p}${k}`, shape }));
      const opt = v.make();
      const ref = new RefMuon(v.ref);
      const res = runTrajectory(opt, ref, params);
      opt.dispose();
      for (const { name, shape } of params) {
        const tol = ref.usesMuon(name, shape) ? TOL : ADAMW_TOL;
        record(`${v.label} :: ${name.slice(p.length)}`, res.maxError[name]!);
        expect(res.maxError[name]!).toBeLessThanOrEqual(tol);
        expect(res.moved[name]!).toBeGreaterThan(20 * tol);
      }
    });
  }

  it('NorMuon differs from plain Muon (its normalisation is visible in the comparison)', () => {
    const p = uniquePrefix('variantneg');
    const opt = new NorMuon({ beta2: 0.5 });
    const res = runTrajectory(opt, new RefMuon({}), [{ name: `${p}w`, shape: [8, 16] }], { steps: 5 });
    opt.dispose();
    expect(Math.max(...res.perStep)).toBeGreaterThan(10 * TOL);
  });
});

describe('the Muon comparisons can fail', () => {
  const run = (options: MuonInput, ref: RefInput, shape: number[]): number => {
    const p = uniquePrefix('muonneg');
    const opt = new Muon(options);
    const res = runTrajectory(opt, new RefMuon(ref), [{ name: `${p}w`, shape }], { steps: 5 });
    opt.dispose();
    return Math.max(...res.perStep);
  };

  it('the layout trap: torch-literal fan_in/fan_out (tfjs shape [16,8] read as [out,in]) is detected', () => {
    // For the tfjs kernel [16,8] (fan_in 16, fan_out 8) the right factor is sqrt(max(1, 8/16)) = 1;
    // a literal port of size(-2)/size(-1) gives sqrt(16/8) = √2. A reference with lr·√2 stands in for it.
    const wrong = run({}, { lr: 0.02 * Math.SQRT2 }, [16, 8]);
    expect(wrong).toBeGreaterThan(10 * TOL);
  });

  it('nesterov on vs off differ', () => {
    expect(run({ nesterov: true }, { nesterov: false }, [8, 16])).toBeGreaterThan(10 * TOL);
  });

  it('decay with the adjusted lr (instead of the unadjusted lr) is detected', () => {
    // match_rms_adamw on [16,8]: adjusted lr = 0.2·4·lr = 0.8·lr; decay must use lr itself.
    const lr = 0.02;
    const wd = 0.5;
    const wrong = run({ lrAdjust: 'match_rms_adamw', weightDecay: wd, learningRate: lr }, { lrAdjust: 'match_rms_adamw', weightDecay: wd * 0.8, lr }, [16, 8]);
    expect(wrong).toBeGreaterThan(10 * TOL);
  });
});

describe('routing', () => {
  it('rank < 2 goes to AdamW, rank 2 and 3 to Muon; exclude patterns and arrays', () => {
    expect(routesToMuon({ name: 'b', shape: [10] }, null)).toBe(false);
    expect(routesToMuon({ name: 's', shape: [] }, null)).toBe(false);
    expect(routesToMuon({ name: 'w', shape: [4, 5] }, null)).toBe(true);
    expect(routesToMuon({ name: 'e', shape: [2, 4, 5] }, null)).toBe(true);
    expect(routesToMuon({ name: 'tok_embed', shape: [4, 5] }, '^tok_')).toBe(false);
    expect(routesToMuon({ name: 'x_tok_embed', shape: [4, 5] }, '^tok_')).toBe(true);
    expect(routesToMuon({ name: 'router/kernel', shape: [4, 5] }, [/^head/, 'router'])).toBe(false);
    expect(routesToMuon({ name: 'head', shape: [4, 5] }, (n) => n === 'head')).toBe(false);
  });
});
