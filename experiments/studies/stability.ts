/**
 * The stability study (docs/references.md#loss-spikes, #fair-comparison, #the-claim): does Muon show fewer loss spikes and less divergence
 * than AdamW? Each optimizer tunes its own LR over a √10-spaced grid (Wortsman et al. 2023's spacing)
 * spanning ≥ 3 decades — Muon 1e-3…1 (7 points); AdamW 1e-4…0.316 (8 points, because MoE AdamW
 * tuned at the top of 1e-4…1e-1 in short runs) — with 5 seeds shared by both; then the
 * tuned LR is held constant at 1×, 2×, 4×, 8× (the Qwen3.8-Next stress test, extended to 8×) for a
 * horizon over 3× the tuning one.
 */
import { logGrid, type StudySpec, type StudyTask } from '../../src/study/protocol.js';
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
