/**
 * Study v3 (docs/study-v3-design.md): the stability study made able to decide. Against v2
 * (stability.ts, kept as it was):
 *
 * - **Seeds where it matters**: 20 per optimizer in every cell that feeds a primary endpoint (the
 *   MoE LM and its dense control on the ladder, their qkNorm and bf16 arms, the positive control,
 *   and (a)'s long-horizon cell: lm-moe's own seeds in that phase); 5 elsewhere. At 20 a side the exact
 *   rank-sum test at Holm's first step (0.05/7) detects P(Muon < AdamW) ≈ 0.82, ≈ 1.2 SD for a
 *   normal shift, with power 0.8 (at 10, ≈ 0.96); at 5 a side its smallest p (0.0079) cannot pass
 *   0.05/7 at all (docs/study-v3-design.md, "Power").
 * - **Stress to failure**: a ladder 1, 2, 4, … 256× the tuned LR, one rung at a time per task, until
 *   both optimizers have failed in at least half their runs (src/study/failure.ts, ladderNext); a run
 *   fails when it diverged, ended worse than at initialisation, ≥ 5× the best tuned loss, or — v3's
 *   rule for failures that stay finite — lost half the progress the tuned runs made
 *   (`failureProgressShare` ½). The arms run where either optimizer first fails, and (c) and (f)
 *   read that rung.
 * - **A real late stage**: a long-horizon phase on both LMs at the tuned LR for 20 tokens per active
 *   non-embedding parameter (below, and `longHorizon` in src/study/long_width.ts): lm-moe with 20
 *   seeds, its cell being primary endpoint (a)'s; lm-brown with 10 (exploratory).
 * - **A width trend** (sub-claim (h), exploratory at 5 seeds): the MoE LM at d 32 and 128 beside the
 *   main task's d 64, heads and expert width scaled with d (head width 16, expert width = d), each
 *   width tuned on its own, stressed at 1× and 2× (the (a) and (b) multipliers).
 * - **The positive control** (sub-claim (g)): adam-spike-control at its hand-picked LRs (AdamW 3e-2,
 *   Muon 2e-2: set where AdamW is known to spike, not tuned — tuning it for the lowest loss would
 *   move it to where the spikes are rarer), constant LR, its 4000 steps, 20 seeds.
 * - **Calibrated spike detectors** on the LMs (`LM_DETECTORS` below), set before any run: the
 *   detectors run online during training, so a run counts spikes only with the settings it ran with.
 *
 * Sizes (modelParamCounts; vocabulary 85 symbols, context 32, 16 windows = 512 tokens a step).
 * lm-moe at d 64: 180,160 parameters in all, 7,488 of them the token and position embeddings, and
 * 72,832 active per token without embeddings (attention 4d², gains, the router, 2 of the 8
 * experts, the output head). 20 tokens each is 1,456,640 tokens: 2,845 steps (7.9× v2's 360-step
 * stress runs). lm-brown (dense, d 64): 111,552 in all, 104,064 active without embeddings: 4,065
 * steps, 2,081,280 tokens. `longHorizon` computes these from the spec; test/study/study_v3.test.ts
 * checks them.
 */
import { calibratedSpec, type CalibrationResult } from '../../src/study/calibration.js';
import { ladderRungs, logGrid, type StudySpec, type StudyTask } from '../../src/study/protocol.js';
import type { EndpointPhase, EndpointRung, PrimaryEndpoint, SubClaimId } from '../../src/study/verdict.js';
import { widthVariant } from '../../src/study/long_width.js';
import { full as v2, quick as v2quick } from './stability.js';
import lmMoe from '../lm-moe.js';
import lmMoeCalibration from '../calibration/lm-moe.json' with { type: 'json' };

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
/** 20 seeds in primary cells, 5 elsewhere (the tuning grid's seeds). */
const PRIMARY_SEEDS = range(20);
const SEEDS = range(5);
const EXPLORATORY_ARMS = { qkClip: SEEDS, zLoss: SEEDS, fp4: SEEDS, 'muon-match-rms': SEEDS, wsd: SEEDS } as const;

const v2Task = (study: StudySpec, name: string): StudyTask => study.tasks.find((t) => t.experiment === name)!;

/**
 * The language models' spike detectors, as measured by the detector calibration on lm-moe at study
 * size (docs/study-v3-design.md, "Detector calibration"; `npm run sandbox -- calibrate lm-moe --seeds
 * 5 --steps 300`): per detector the loosest setting with ≤ 1 false event per 1000 clean steps for
 * both optimizers — median threshold 0.07 (window 50, no 0.1 floor; 39 of 40 injected spikes found,
 * 0.67 false events per 1k), zscore σ 3 (29 of 40), gradnorm z 6 (10 of 40). The v2 defaults never
 * fired on these models: a 512-token batch's loss varies by 2–3 %, far inside "3× the median".
 * The names stay median/zscore/gradnorm, so the endpoints keep theirs.
 *
 * lm-brown reuses lm-moe's calibration: the same corpus, vocabulary, context and batch, so a loss
 * of about the same size and noise; it was not measured on its own, and its spike endpoints are
 * exploratory (its primary endpoint, (f), is time to failure). The width variants inherit lm-moe's
 * task, and with it these settings. Set on every run of these tasks, tuning too: detectors only
 * observe (the runs train the same with any: test/train/spikes.test.ts), and one setting per task
 * keeps every record of it comparable. The quick study, a smoke test of this one, uses them too; at
 * its toy size they are not calibrated.
 */
export const LM_DETECTORS = [calibratedSpec('median', 0.07), calibratedSpec('zscore', 3), calibratedSpec('gradnorm', 6)] as const;

/**
 * That calibration as `calibrate` wrote it (calibration.json of the command above, wasm; rerun on
 * 2026-12-05 with the same seeds, it reproduced the table that set LM_DETECTORS number for number).
 * The spec records it so that the report shows it; validateStudy checks that the tasks it names
 * carry exactly the detectors it chose. JSON imports are untyped: the shape is calibrate.ts's.
 */
const LM_CALIBRATION = lmMoeCalibration as unknown as CalibrationResult;
/** The tasks whose detectors LM_DETECTORS are (tasksOf): the MoE LM, its width variants and the dense LM. */
const calibrationOf = (tasks: readonly StudyTask[]): StudySpec['calibration'] => ({
  tasks: tasks.filter((t) => JSON.stringify(t.detectors) === JSON.stringify(LM_DETECTORS)).map((t) => t.experiment),
  result: LM_CALIBRATION,
});

/** The v3 tasks from a v2 spec's tasks: the same models and horizons, v3's seeds, width variants, the control. */
function tasksOf(study: StudySpec, widths: readonly number[], control: Partial<StudyTask>, primarySeeds: readonly number[], seeds: readonly number[]): StudyTask[] {
  const lm: StudyTask = { ...v2Task(study, 'lm-moe'), detectors: LM_DETECTORS };
  const arms = Object.fromEntries(Object.keys(EXPLORATORY_ARMS).map((a) => [a, seeds]));
  const moeTask: StudyTask = { ...lm, seeds: primarySeeds, seedsByArm: arms };
  const d = (lm.model as { dModel?: number } | undefined)?.dModel ?? 64;
  return [
    ...study.tasks.filter((t) => !['lm-moe', 'lm-brown'].includes(t.experiment)),
    { ...moeTask, width: { of: 'lm-moe', dModel: d } },
    { ...v2Task(study, 'lm-brown'), seeds: primarySeeds, detectors: LM_DETECTORS },
    // The width variants: no arms, the (a)/(b) multipliers, 5 seeds.
    ...widths.map((w) => widthVariant({ ...lm, arms: [] }, lmMoe.model, w, { seeds, multipliers: [1, 2] })),
    { experiment: 'adam-spike-control', fixedLr: true, multipliers: [1], seeds: primarySeeds, ...control },
  ];
}

/**
 * The pre-registered primary family, one endpoint per sub-claim (docs/study-v3-design.md); every
 * other comparison in the report is exploratory. Fixed before the full v3 run starts. Decided:
 *   - (a) reads the long-horizon phase's cell (lm-moe at the tuned LR for 2,845 steps, 20 tokens
 *     per active parameter), not the ladder's 1× rung: the sub-claim is about the late stage, and
 *     that run's last half (steps 1,423–2,845) lies far past the 120-step tuning horizon, where the
 *     ladder's 360-step runs end at 3× it. 20 a side: lm-moe has its own 20 seeds in that phase
 *     (`long.seedsByTask`), like every primary cell.
 *   - (a) and (b) count spikes with `median` at its calibrated setting (LM_DETECTORS): the only
 *     detector that found ≥ 85 % of injected spikes within the false-positive budget, and one that
 *     reads the loss, which the claim is about; the calibration's pre-registration rule picked it.
 *     zscore and gradnorm stay exploratory.
 *   - (c) and (f) read the first-failure rung (`rung: 'first-failure'`): of the ladder's rungs, the
 *     first where either optimizer failed in at least half its runs — where the arms run (the lower
 *     of their rungs when the two first fail apart), by the same rule. A fixed rung could compare no failures at all: v2 saw no LM
 *     run fail at 1–8×. If neither fails by the cap the endpoint reads the highest rung the ladder
 *     ran, both sides mostly censored: "neither failed by the cap", a finding the test says little about.
 * (g) is the positive control: AdamW's loss spikes by the second-moment mechanism, on its own
 * detectors (no absolute floor), over the whole run.
 */
const spikes = (subClaim: SubClaimId, task: string, multiplier: number, metric: string, detector: string, phase?: EndpointPhase): PrimaryEndpoint => ({
  subClaim,
  task,
  arm: 'none',
  multipliers: [multiplier],
  metric,
  detector,
  supportsWhen: 'treatment-lower',
  test: 'rank-sum',
  ...(phase ? { phase } : {}),
});
const failure = (subClaim: SubClaimId, task: string, arm: string, multipliers: readonly number[], rung?: EndpointRung): PrimaryEndpoint => ({
  subClaim,
  task,
  arm,
  multipliers,
  metric: 'time to failure',
  detector: null,
  supportsWhen: 'treatment-lower',
  test: 'log-rank',
  ...(rung ? { rung } : {}),
});
const primaryFamily = (cap: number): readonly PrimaryEndpoint[] => {
  const rungs = ladderRungs(cap);
  return [
    spikes('a', 'lm-moe', 1, 'late spikes/1k', 'median', 'long'),
    spikes('b', 'lm-moe', 2, 'late spikes/1k', 'median'),
    // The arms' rung: the first where either optimizer fails in half its runs (or the top rung run).
    failure('c', 'lm-moe', 'none', rungs, 'first-failure'),
    // The arms run at the rung(s) where either optimizer first fails: pooled over whichever ran.
    failure('d', 'lm-moe', 'qkNorm', rungs),
    failure('e', 'lm-moe', 'bf16', rungs),
    failure('f', 'lm-brown', 'none', rungs, 'first-failure'),
    spikes('g', 'adam-spike-control', 1, 'spikes/1k', 'median'),
  ];
};

const FULL_TASKS = tasksOf(v2, [32, 128], { stressSteps: 4000 }, PRIMARY_SEEDS, SEEDS);
const QUICK_TASKS = tasksOf(v2quick, [8, 32], { stressSteps: 300, evalSize: 256 }, [0, 1, 2], [0, 1]);

export const full: StudySpec = {
  ...v2,
  name: 'stability-v3',
  description:
    'Muon vs AdamW, v3: tuned LRs, a stress ladder to failure (1–256× the tuned LR), a long-horizon phase at 20 tokens per active parameter, a width trend on the MoE LM, and a positive control where AdamW spikes; 20 seeds in the cells of the pre-registered primary endpoints',
  tasks: FULL_TASKS,
  seeds: SEEDS,
  tune: { grid: { adamw: logGrid(1e-4, 0.316, 8), muon: logGrid(1e-3, 1, 7) }, steps: 300 },
  stress: { multipliers: [1], steps: 1000, ladder: { cap: 256 } },
  failureProgressShare: 0.5,
  // lm-moe's long cell is (a)'s: 20 seeds like every primary cell; lm-brown's is exploratory.
  long: { tasks: ['lm-moe', 'lm-brown'], multipliers: [1], seeds: range(10), seedsByTask: { 'lm-moe': PRIMARY_SEEDS }, tokensPerActiveParam: 20 },
  primary: primaryFamily(256),
  calibration: calibrationOf(FULL_TASKS),
};

/**
 * Every phase, small: v2's quick tasks and grids, 3 seeds (2 in the exploratory arms), a ladder
 * capped at 4×, width variants d 8 and 32 of the quick LM (d 16), the control for 300 steps, and a
 * long horizon of 1 token per active parameter (a smoke test of the phase, not a late stage; lm-moe
 * 3 seeds there, lm-brown 2).
 */
export const quick: StudySpec = {
  ...v2quick,
  name: 'stability-v3-quick',
  tasks: QUICK_TASKS,
  seeds: [0, 1, 2],
  stress: { multipliers: [1], steps: 200, ladder: { cap: 4 } },
  failureProgressShare: 0.5,
  long: { tasks: ['lm-moe', 'lm-brown'], multipliers: [1], seeds: [0, 1], seedsByTask: { 'lm-moe': [0, 1, 2] }, tokensPerActiveParam: 1 },
  primary: primaryFamily(4),
  // The quick LMs use the same settings (not calibrated at their toy size): the section shows where they came from.
  calibration: calibrationOf(QUICK_TASKS),
};

export default full;
