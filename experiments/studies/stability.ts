/**
 * The stability study (docs/references.md#loss-spikes, #fair-comparison, #the-claim): does Muon show fewer loss spikes and less divergence
 * than AdamW? Each optimizer tunes its own LR over a √10-spaced grid (Wortsman et al. 2023's spacing)
 * spanning ≥ 3 decades — Muon 1e-3…1 (7 points); AdamW 1e-4…0.316 (8 points, because MoE AdamW
 * tuned at the top of 1e-4…1e-1 in short runs) — with 5 seeds shared by both; then the
 * tuned LR is held constant at 1×, 2×, 4×, 8× (the Qwen3.8-Next stress test, extended to 8×) for a
 * horizon over 3× the tuning one.
 */
import { logGrid, type StudySpec, type StudyTask } from '../../src/study/protocol.js';
import type { PrimaryEndpoint } from '../../src/study/verdict.js';
import lmMoe from '../lm-moe.js';
import lmBrown from '../lm-brown.js';

/**
 * The study's language models: the experiments' transformers (d 64, 4 heads, 2 blocks) with context
 * 32 and 16 windows per batch instead of 64 and 32 — 512 tokens a step, a quarter of the
 * experiments' — because the study runs them ~1000 times. Tuned over 120 steps; stress runs 3×
 * that (360: the warm-up of 50, then constant), so the last half (steps 181–360) lies past the
 * tuning horizon. These sizes keep the full study's cost-model estimate under 3 h on 2 workers.
 */
const studyLm = (spec: typeof lmMoe) => ({ ...spec.model, context: 32 }) as StudyTask['model'];
const LM_HORIZON = { batchSize: 16, tuneSteps: 120, stressLength: 3 } as const;

const tasks = [
  // The study's MNIST MLP is 784-128-10: Newton–Schulz on a 784×256 matrix costs ~8× the step
  // itself on wasm, and the study runs it hundreds of times.
  { experiment: 'mnist-mlp', model: { kind: 'mlp', hidden: [128], activation: 'relu' } },
  // Arms (src/study/arms.ts) at the multipliers where either optimizer first fails: Muon with its
  // update RMS matched to AdamW's at AdamW's LR (Moonlight), and the bf16 and fp4 precision presets.
  { experiment: 'moe-regimes', arms: ['muon-match-rms', 'bf16', 'fp4'] },
  { experiment: 'moe-router-muon' },
  // The claim's own setting (sub-claims a–e) and its dense control (f). Arms at the multipliers where
  // either optimizer first fails: the mitigations (qk-norm, output z-loss, QK-clip — MuonClip with
  // Muon), the precision presets, Muon's update RMS matched to AdamW's, and a WSD cooldown in place
  // of the constant LR (10 runs per multiplier; the measured study left room for them).
  {
    experiment: 'lm-moe',
    model: studyLm(lmMoe),
    ...LM_HORIZON,
    arms: ['qkNorm', 'zLoss', 'qkClip', 'bf16', 'fp4', 'muon-match-rms', 'wsd'],
  },
  { experiment: 'lm-brown', model: studyLm(lmBrown), ...LM_HORIZON },
] as const satisfies StudySpec['tasks'];

/**
 * The pre-registered primary family (docs/study-v3-design.md), restricted to the tasks, arms and
 * multipliers this spec runs today. When the v3 phases land, endpoints move:
 *   (a) to the long-horizon phase of lm-moe at the tuned LR;
 *   (b) to the ladder phase's 2× rung;
 *   (c), (f) to the ladder's first rung where either optimizer fails in ≥ half its runs (8× is the
 *       top of today's fixed multipliers, the nearest stand-in);
 *   (d), (e) stay on the arms, which run where either optimizer first fails (any listed multiplier
 *       where the arm ran is pooled: no spec can know that rung before the runs).
 * The spike detector is `gradnorm` until the detector calibration picks one before the main runs.
 * (g), the positive control on `adam-spike-control`, is left out: it is not a study task yet, and
 * adding it (its own tuning grid and horizon) does not fit the quick study's 5-minute budget; it
 * joins with the v3 phases.
 */
const lmSpikes = (subClaim: 'a' | 'b', multiplier: number): PrimaryEndpoint => ({
  subClaim,
  task: 'lm-moe',
  arm: 'none',
  multipliers: [multiplier],
  metric: 'late spikes/1k',
  detector: 'gradnorm',
  supportsWhen: 'treatment-lower',
  test: 'rank-sum',
});
const failure = (subClaim: 'c' | 'd' | 'e' | 'f', task: string, arm: string, multipliers: readonly number[]): PrimaryEndpoint => ({
  subClaim,
  task,
  arm,
  multipliers,
  metric: 'time to failure',
  detector: null,
  supportsWhen: 'treatment-lower',
  test: 'log-rank',
});
const primary: readonly PrimaryEndpoint[] = [
  lmSpikes('a', 1),
  lmSpikes('b', 2),
  failure('c', 'lm-moe', 'none', [8]),
  failure('d', 'lm-moe', 'qkNorm', [1, 2, 4, 8]),
  failure('e', 'lm-moe', 'bf16', [1, 2, 4, 8]),
  failure('f', 'lm-brown', 'none', [8]),
];

export const full: StudySpec = {
  name: 'stability',
  description:
    'Muon vs AdamW: tuned LRs, LR sensitivity, spikes/divergence/failure at 1–8× the tuned LR (whole run and late stage), on an MLP, two MoE regression tasks and MoE/dense language models, with mitigation, precision and step-size arms',
  tasks,
  baseline: 'adamw',
  treatment: 'muon',
  seeds: [0, 1, 2, 3, 4],
  tune: {
    grid: { adamw: logGrid(1e-4, 0.316, 8), muon: logGrid(1e-3, 1, 7) },
    steps: 300,
  },
  stress: { multipliers: [1, 2, 4, 8], steps: 1000 },
  primary,
};

/** A smoke-sized LM for the quick study: d 16, 2 heads, context 16, 4 windows; 4 experts of hidden 16. */
const quickLm = (spec: typeof lmMoe) => {
  const m = spec.model as Extract<StudyTask['model'], { kind: 'transformer' }>;
  return { ...m, dModel: 16, heads: 2, context: 16, ...(m.moe ? { moe: { ...m.moe, experts: 4, expertHidden: 16 } } : {}) };
};
const QUICK_LM_HORIZON = { batchSize: 4, evalSize: 16, tuneSteps: 10, stressLength: 3 } as const;

/**
 * The same pipeline, small: 4-point grids over the same 3 decades, 3 seeds, short horizons, and
 * smoke-sized LMs that still run every arm and fill every report section.
 */
export const quick: StudySpec = {
  ...full,
  tasks: tasks.map((t) =>
    t.experiment === 'lm-moe' ? { ...t, model: quickLm(lmMoe), ...QUICK_LM_HORIZON } : t.experiment === 'lm-brown' ? { ...t, model: quickLm(lmBrown), ...QUICK_LM_HORIZON } : t,
  ),
  name: 'stability-quick',
  seeds: [0, 1, 2],
  tune: {
    grid: { adamw: logGrid(1e-4, 1e-1, 4), muon: logGrid(1e-3, 1, 4) },
    steps: 80,
  },
  stress: { multipliers: [1, 2, 4, 8], steps: 200 },
};

export default full;
