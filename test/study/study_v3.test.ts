/**
 * Study v3's phases as protocol and planning, on hand-made summaries: the ladder's stopping rule
 * and the failure rule for finite failures; per-task and per-arm seeds; fixed-LR tasks; the
 * long-horizon phase's horizon, folder names and parameter counts (checked against built models);
 * width variants; the cost per phase; resuming (finished runs planned, not redone). The shipped
 * v3 spec: its primary cells have 20 seeds, its long phase ≥ 20 tokens per active parameter, its
 * LM runs count spikes with the calibrated detectors (v2's with the defaults), and its quick
 * version exercises every phase within 5 minutes by the cost model.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { full, LM_DETECTORS, quick } from '../../experiments/studies/stability-v3.js';
import { full as v2full, quick as v2quick } from '../../experiments/studies/stability.js';
import { initBackend } from '../../src/backend.js';
import { loadStudyExperiments } from '../../src/catalog/experiments.js';
import { finishStudy, foldersBeforeRound, ladderRounds, phaseRounds, runPhaseTask, SHARDS_DIR } from '../../src/cluster/phases.js';
import { Rng } from '../../src/data/rng.js';
import { modelParamCounts } from '../../src/models/flops.js';
import { parameterCount } from '../../src/models/model.js';
import { dataDims } from '../../src/study/cost.js';
import { failureReason, FAILURE_LOSS_FACTOR, ladderNext, type FailureContext } from '../../src/study/failure.js';
import {
  armSeedsOf,
  ladderRungs,
  planArm,
  planStress,
  planTuning,
  stressMultipliersOf,
  validateStudy,
  type PlannedRun,
  type StudySpec,
} from '../../src/study/protocol.js';
import { estimateStudy, groupKey, RUNS_DIR, runStudy, studyShare, stressPlan, tunedOrFixed } from '../../src/study/study.js';
import { buildModel } from '../../src/train/build.js';
import type { ExperimentSpec } from '../../src/train/config.js';
import { DEFAULT_DETECTORS } from '../../src/train/spikes.js';
import type { RunSummary } from '../../src/train/run.js';
import { readJSON, SUMMARY_FILE } from '../../src/train/run_files.js';
import { UsageError } from '../../src/errors.js';
import { collectCells } from '../../src/study/cells.js';
import { longHorizon, planLong, widthVariant } from '../../src/study/long_width.js';
import { fakeSummary, tempDir, tinyLm, tinyMlp } from '../train/fixtures.js';

const summary = (p: Partial<RunSummary>): RunSummary => fakeSummary({ initialEvalLoss: 4.4, ...p });
const ok = summary({});
const broken = summary({ diverged: true, divergedAtStep: 10 });
/** An LM that stalled at the unigram level: finite, below its initial loss, below 5 × the tuned loss. */
const stalled = summary({ evalLoss: 3.3 });
const lm: FailureContext = { bestTunedLoss: 2.0, lossFactor: FAILURE_LOSS_FACTOR, progressShare: 0.5 };

describe('the failure rule for failures that stay finite', () => {
  it('counts a run that lost half the tuned runs’ progress, only when the study turns the rule on', () => {
    expect(failureReason(stalled, lm)).toBe('lost progress');
    // 2.0 + ½ (4.4 − 2.0) = 3.2 is the threshold.
    expect(failureReason(summary({ evalLoss: 3.19 }), lm)).toBeNull();
    expect(failureReason(stalled, { bestTunedLoss: 2.0, lossFactor: FAILURE_LOSS_FACTOR })).toBeNull();
    // Without a tuned loss (a fixed-LR task) the rule has nothing to compare with.
    expect(failureReason(stalled, { ...lm, bestTunedLoss: NaN })).toBeNull();
  });
});

describe('the ladder', () => {
  it('rungs double up to the cap; a task with its own multipliers is off the ladder', () => {
    expect(ladderRungs(256)).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256]);
    expect(ladderRungs(6)).toEqual([1, 2, 4]);
    expect(stressMultipliersOf(full, full.tasks.find((t) => t.experiment === 'lm-moe')!)).toEqual(ladderRungs(256));
    expect(stressMultipliersOf(full, full.tasks.find((t) => t.experiment === 'lm-moe-d32')!)).toEqual([1, 2]);
  });

  const rungs = ladderRungs(16);
  /** Runs of 4 seeds per rung: `fails[label]` is the first rung at which 2 of 4 fail (null: never); `done` the rungs finished. */
  const at =
    (fails: Record<string, number | null>, done: number, how: RunSummary = broken) =>
    (label: string, m: number) =>
      m > done ? [ok, undefined, ok, ok] : fails[label] !== null && m >= fails[label]! ? [how, how, ok, ok] : [ok, ok, ok, ok];

  it('runs the first unfinished rung, and stops once both optimizers have failed in half their runs', () => {
    expect(ladderNext(rungs, ['adamw', 'muon'], at({ adamw: 4, muon: 8 }, 0), lm)).toBe(1);
    expect(ladderNext(rungs, ['adamw', 'muon'], at({ adamw: 4, muon: 8 }, 2), lm)).toBe(4);
    // AdamW has failed at 4, Muon not yet: climb on.
    expect(ladderNext(rungs, ['adamw', 'muon'], at({ adamw: 4, muon: 8 }, 4), lm)).toBe(8);
    expect(ladderNext(rungs, ['adamw', 'muon'], at({ adamw: 4, muon: 8 }, 8), lm)).toBeNull();
  });

  it('counts finite failures on the ladder, and stops at the cap when an optimizer never fails', () => {
    expect(ladderNext(rungs, ['adamw', 'muon'], at({ adamw: 2, muon: 2 }, 2, stalled), lm)).toBeNull();
    expect(ladderNext(rungs, ['adamw', 'muon'], at({ adamw: 2, muon: 2 }, 2, stalled), { ...lm, progressShare: undefined })).toBe(4);
    expect(ladderNext(rungs, ['adamw', 'muon'], at({ adamw: 1, muon: null }, 8), lm)).toBe(16);
    expect(ladderNext(rungs, ['adamw', 'muon'], at({ adamw: 1, muon: null }, 16), lm)).toBeNull();
  });
});

const experiments: ReadonlyMap<string, ExperimentSpec> = new Map([
  ['tiny-mlp', tinyMlp],
  ['tiny-lm', tinyLm],
  ['tiny-lm-d32', { ...tinyLm, name: 'tiny-lm-d32' }],
]);
const lmTask = { experiment: 'tiny-lm', seeds: [0, 1, 2, 3], seedsByArm: { zLoss: [0] }, arms: ['qkNorm', 'zLoss'] } as const;
const spec: StudySpec = {
  name: 'v3-fixture',
  description: 'test fixture',
  tasks: [
    { experiment: 'tiny-mlp', fixedLr: true, multipliers: [1], stressSteps: 7 },
    lmTask,
    widthVariant({ experiment: 'tiny-lm' }, tinyLm.model, 32, { seeds: [0], multipliers: [1, 2] }),
  ],
  baseline: 'adamw',
  treatment: 'muon',
  seeds: [0, 1],
  tune: { grid: { adamw: [1e-3, 1e-2], muon: [0.01, 0.1] }, steps: 5 },
  stress: { multipliers: [1], steps: 9, ladder: { cap: 8 } },
  failureProgressShare: 0.5,
  long: { tasks: ['tiny-lm'], multipliers: [1, 2], seeds: [3, 4], tokensPerActiveParam: 0.5 },
};

describe('v3 planning', () => {
  it('validates, and refuses a task listed twice', () => {
    expect(() => validateStudy(spec)).not.toThrow();
    expect(() => validateStudy({ ...spec, tasks: [...spec.tasks, lmTask] })).toThrow('listed twice');
    expect(() => validateStudy({ ...spec, long: { ...spec.long!, tasks: ['nope'] } })).toThrow('not a task');
  });

  it('seeds: the study’s for tuning, the task’s for stress, an arm’s own where given', () => {
    const tuning = planTuning(spec, experiments);
    expect(new Set(tuning.filter((p) => p.task === 'tiny-lm').map((p) => p.seed))).toEqual(new Set([0, 1]));
    expect(planStress(spec, experiments, lmTask, 'muon', 0.1, [1]).map((p) => p.seed)).toEqual([0, 1, 2, 3]);
    expect(armSeedsOf(spec, lmTask, 'zLoss')).toEqual([0]);
    const lrs = { baseline: 1e-3, treatment: 0.1 };
    expect(planArm(spec, experiments, lmTask, 'zLoss', 'muon', lrs, [2]).map((p) => p.dirName)).toEqual(['arm__tiny-lm__zLoss__muon__x2__s0']);
    expect(planArm(spec, experiments, lmTask, 'qkNorm', 'adamw', lrs, [2])).toHaveLength(4);
  });

  it('a fixed-LR task has no tuning runs and uses its experiment’s LRs, without a tuned score', () => {
    expect(planTuning(spec, experiments).some((p) => p.task === 'tiny-mlp')).toBe(false);
    const fixed = tunedOrFixed(experiments, [], spec.tasks[0]!, 'muon', () => undefined);
    expect(fixed.lr).toBe(0.05);
    expect(fixed.score).toBeNaN();
    expect(planStress(spec, experiments, spec.tasks[0]!, 'muon', fixed.lr)[0]!.config.steps).toBe(7);
  });

  it('width variant: its own name, base and tag; heads and expert width scaled with d', () => {
    const w = spec.tasks[2]!;
    expect(w).toMatchObject({ experiment: 'tiny-lm-d32', base: 'tiny-lm', width: { of: 'tiny-lm', dModel: 32 }, seeds: [0], multipliers: [1, 2] });
    expect(w.model).toMatchObject({ kind: 'transformer', dModel: 32, heads: 4, moe: { expertHidden: 16 } });
    const p = planStress(spec, experiments, w, 'adamw', 1e-3)[1]!;
    expect(p.dirName).toBe('stress__tiny-lm-d32__adamw__x2__s0');
    expect(p.config.model).toMatchObject({ dModel: 32, heads: 4 });
  });

  it('long horizon: distinct folders, the tuned LR × multiplier, steps from tokens per active parameter', () => {
    const h = longHorizon(spec, experiments, lmTask);
    expect(h.tokensPerStep).toBe(4 * 16);
    expect(h.steps).toBe(Math.ceil((0.5 * h.params.activeNonEmbedding) / 64));
    expect(h.tokensPerActiveParam).toBeGreaterThanOrEqual(0.5);
    const runs = planLong(spec, experiments, lmTask, 'muon', 0.1);
    expect(runs.map((p) => p.dirName)).toEqual(['long__tiny-lm__muon__x1__s3', 'long__tiny-lm__muon__x1__s4', 'long__tiny-lm__muon__x2__s3', 'long__tiny-lm__muon__x2__s4']);
    expect(runs.every((p) => p.phase === 'long' && p.config.steps === h.steps && p.config.schedule.kind === 'constant')).toBe(true);
    expect(runs[2]!.lr).toBeCloseTo(0.2);
    expect(planLong(spec, experiments, spec.tasks[2]!, 'muon', 0.1)).toEqual([]);
  });

  it('long horizon: a task’s own seeds (seedsByTask) in planning and in the runs the analysis expects; the others the phase’s', () => {
    const own: StudySpec = { ...spec, long: { ...spec.long!, tasks: ['tiny-lm', 'tiny-lm-d32'], seedsByTask: { 'tiny-lm': [3, 4, 5] } } };
    expect(() => validateStudy(own)).not.toThrow();
    const seedsOf = (task: number) => [...new Set(planLong(own, experiments, own.tasks[task]!, 'adamw', 1e-3).map((p) => p.seed))];
    expect(seedsOf(1)).toEqual([3, 4, 5]);
    expect(seedsOf(2)).toEqual([3, 4]);
    const cells = collectCells({ spec: own, experiments: Object.fromEntries(experiments), runs: new Map() });
    const expected = (task: string) => cells.expected.filter((n) => n.startsWith(`long__${task}__muon__x1__`));
    expect(expected('tiny-lm')).toEqual([3, 4, 5].map((s) => `long__tiny-lm__muon__x1__s${s}`));
    expect(expected('tiny-lm-d32')).toEqual([3, 4].map((s) => `long__tiny-lm-d32__muon__x1__s${s}`));
    expect(() => validateStudy({ ...own, long: { ...own.long!, seedsByTask: { 'tiny-mlp': [1] } } })).toThrow('long.seedsByTask names tiny-mlp, which is not in long.tasks');
    expect(() => validateStudy({ ...own, long: { ...own.long!, seedsByTask: { 'tiny-lm': [] } } })).toThrow(/long needs seeds/);
  });
});

describe('parameter counts', () => {
  beforeAll(async () => {
    await initBackend();
  });
  it('total = the built model’s variables; active per token counts top-k of the experts, no embeddings', () => {
    for (const task of [lmTask, spec.tasks[2]!, { experiment: 'tiny-lm', model: { ...tinyLm.model, ffn: 'dense' as const } }]) {
      const config = planStress(spec, experiments, task, 'adamw', 1e-3, [1], [0])[0]!.config;
      const dims = dataDims(config.data);
      const before = tf.memory().numTensors;
      const model = buildModel(config, dims, new Rng(0));
      const built = parameterCount(model);
      model.dispose();
      expect(tf.memory().numTensors).toBe(before);
      const counts = modelParamCounts(config.model, dims.inputDim, dims.outputDim);
      expect(counts.total).toBe(built);
      if (config.model.kind !== 'transformer') throw new Error('expected a transformer');
      const d = config.model.dModel;
      expect(counts.embedding).toBe((dims.inputDim + config.model.context) * d);
      if (config.model.ffn === 'dense') expect(counts.activeNonEmbedding).toBe(counts.total - counts.embedding);
      else {
        const { experts, topK, expertHidden: h } = config.model.moe;
        const perExpert = d * h + h + h * d + d;
        expect(counts.total - counts.embedding - counts.activeNonEmbedding).toBe(config.model.layers * (experts - topK) * perExpert);
      }
    }
  });
});

describe('stress rounds and resume, on hand-made summaries', () => {
  const tuned = new Map([
    [groupKey('tiny-lm', 'adamw'), { lr: 1e-3, score: 2.0 }],
    [groupKey('tiny-lm', 'muon'), { lr: 0.1, score: 2.0 }],
  ]);
  const only: StudySpec = { ...spec, tasks: [lmTask] };
  /** Finished runs: every run at multipliers ≤ `done`, AdamW broken from `adamwFails` on, Muon from `muonFails`. */
  const finished = (done: number, adamwFails: number, muonFails: number) => (p: PlannedRun) =>
    p.multiplier > done ? undefined : p.multiplier >= (p.label === 'adamw' ? adamwFails : muonFails) ? broken : ok;

  it('plans the rungs up to the next one, finished ones included; nothing pending once both have failed', () => {
    const r0 = stressPlan(only, experiments, tuned, finished(0, 2, 4));
    expect(r0.pending).toBe(true);
    expect([...r0.next]).toEqual([['tiny-lm', 1]]);
    expect(r0.runs).toHaveLength(2 * 4);
    const r2 = stressPlan(only, experiments, tuned, finished(2, 2, 4));
    expect([...new Set(r2.runs.map((p) => p.multiplier))]).toEqual([1, 2, 4]);
    const done = stressPlan(only, experiments, tuned, finished(4, 2, 4));
    expect(done.pending).toBe(false);
    // Resuming a finished ladder plans exactly the finished runs (execute then skips them all).
    expect(done.runs).toHaveLength(2 * 3 * 4);
    expect(done.runs.every((p) => finished(4, 2, 4)(p) !== undefined)).toBe(true);
  });

  it('--shard refuses a study whose later runs depend on earlier results', () => {
    expect(() => studyShare(spec, experiments, { index: 1, count: 2 })).toThrow(UsageError);
  });

  it('cluster: a ladder round plans from the folders before it', () => {
    const out = tempDir('v3-rounds');
    try {
      for (const n of ['tune-0', 'stress-0', 'stress-1', 'stress-r1-0', 'stress-r2-0', 'arms-0']) mkdirSync(join(out, SHARDS_DIR, n), { recursive: true });
      const names = (r: number) => foldersBeforeRound(out, r).map((f) => (f === out ? '.' : f.slice(join(out, SHARDS_DIR).length + 1)));
      expect(names(0)).toEqual(['.', 'arms-0', 'tune-0']);
      expect(names(1)).toEqual(['.', 'arms-0', 'stress-0', 'stress-1', 'tune-0']);
      expect(names(2)).toEqual(['.', 'arms-0', 'stress-0', 'stress-1', 'stress-r1-0', 'tune-0']);
      expect(ladderRounds(spec)).toBe(4);
      expect(ladderRounds({ ...spec, stress: { multipliers: [1, 2], steps: 9 } })).toBe(1);
      expect(phaseRounds(spec).map((j) => `${j.phase}${j.round}`)).toEqual(['tune0', 'stress0', 'stress1', 'stress2', 'stress3', 'arms0']);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('the shipped v3 study', () => {
  let fullExperiments: Map<string, ExperimentSpec>;
  let quickExperiments: Map<string, ExperimentSpec>;
  beforeAll(async () => {
    fullExperiments = await loadStudyExperiments(full);
    quickExperiments = await loadStudyExperiments(quick);
  });

  it('(c) and (f) read the first-failure rung of the whole ladder; (d) and (e) pool the arms’ rungs', () => {
    for (const [study, cap] of [
      [full, 256],
      [quick, 4],
    ] as const) {
      const byId = Object.fromEntries(study.primary!.map((e) => [e.subClaim, e]));
      for (const id of ['c', 'f']) expect(byId[id], id).toMatchObject({ arm: 'none', rung: 'first-failure', multipliers: ladderRungs(cap), test: 'log-rank' });
      for (const id of ['d', 'e']) expect(byId[id]!.rung, id).toBeUndefined();
      expect(() => validateStudy(study)).not.toThrow();
    }
  });

  it('20 seeds per optimizer in the primary cells, 5 elsewhere; the control at its hand-picked LRs', () => {
    const task = (n: string) => full.tasks.find((t) => t.experiment === n)!;
    for (const n of ['lm-moe', 'lm-brown', 'adam-spike-control']) expect(task(n).seeds, n).toHaveLength(20);
    expect(armSeedsOf(full, task('lm-moe'), 'qkNorm')).toHaveLength(20);
    expect(armSeedsOf(full, task('lm-moe'), 'bf16')).toHaveLength(20);
    expect(armSeedsOf(full, task('lm-moe'), 'zLoss')).toHaveLength(5);
    expect(full.seeds).toHaveLength(5);
    expect(task('adam-spike-control')).toMatchObject({ fixedLr: true, multipliers: [1], stressSteps: 4000 });
    expect(full.stress.ladder).toEqual({ cap: 256 });
  });

  it('width variants of lm-moe at d 32 and 128 (d 64 is the main task), loaded as lm-moe under their own names', () => {
    const widths = full.tasks.filter((t) => t.width?.of === 'lm-moe').map((t) => [t.experiment, t.width!.dModel]);
    expect(widths).toEqual([
      ['lm-moe', 64],
      ['lm-moe-d32', 32],
      ['lm-moe-d128', 128],
    ]);
    expect(fullExperiments.get('lm-moe-d128')).toMatchObject({ name: 'lm-moe-d128', data: fullExperiments.get('lm-moe')!.data });
    const p = planStress(full, fullExperiments, full.tasks.find((t) => t.experiment === 'lm-moe-d128')!, 'muon', 0.01)[0]!;
    expect(p.config.model).toMatchObject({ dModel: 128, heads: 8, context: 32, moe: { expertHidden: 128 } });
  });

  it('long horizon: ≥ 20 tokens per active parameter on both LMs; 20 seeds on lm-moe ((a)’s cell), 10 on lm-brown; the counts its header states', () => {
    expect(full.long).toMatchObject({ tasks: ['lm-moe', 'lm-brown'], tokensPerActiveParam: 20 });
    const planned = (study: StudySpec, experiments: Map<string, ExperimentSpec>, n: string) =>
      planLong(study, experiments, study.tasks.find((t) => t.experiment === n)!, 'muon', 0.01).map((p) => p.seed);
    expect(planned(full, fullExperiments, 'lm-moe')).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(planned(full, fullExperiments, 'lm-brown')).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(planned(quick, quickExperiments, 'lm-moe')).toHaveLength(3);
    expect(planned(quick, quickExperiments, 'lm-brown')).toHaveLength(2);
    // (a) reads that cell, and its n is that cell's seeds.
    expect(full.primary!.find((e) => e.subClaim === 'a')).toMatchObject({ task: 'lm-moe', phase: 'long', multipliers: [1] });
    const h = (n: string) => longHorizon(full, fullExperiments, full.tasks.find((t) => t.experiment === n)!);
    expect(h('lm-moe')).toMatchObject({ params: { total: 180160, embedding: 7488, activeNonEmbedding: 72832 }, tokensPerStep: 512, steps: 2845, tokens: 1456640 });
    expect(h('lm-brown')).toMatchObject({ params: { total: 111552, embedding: 7488, activeNonEmbedding: 104064 }, steps: 4065, tokens: 2081280 });
  });

  it('the LMs’ runs carry the calibrated detectors in every phase; the other tasks and v2’s keep theirs', async () => {
    // The measured settings (docs/study-v3-design.md, "Detector calibration"), under the default names.
    expect(LM_DETECTORS).toEqual([
      { kind: 'rollingMedian', name: 'median', threshold: 0.07, minJump: 0 },
      { kind: 'zscore', name: 'zscore', sigma: 3, minJump: 0 },
      { kind: 'gradNormEma', name: 'gradnorm', z: 6 },
    ]);
    const lms = ['lm-moe', 'lm-brown', 'lm-moe-d32', 'lm-moe-d128'];
    const lrs = { baseline: 1e-3, treatment: 0.01 };
    for (const [study, experiments] of [
      [full, fullExperiments],
      [quick, quickExperiments],
    ] as const) {
      const runsOf = (name: string): PlannedRun[] => {
        const task = study.tasks.find((t) => t.experiment === name)!;
        return [
          ...planTuning(study, experiments).filter((p) => p.task === name),
          ...planStress(study, experiments, task, 'muon', 0.01),
          ...planLong(study, experiments, task, 'adamw', 1e-3),
          ...(task.arms ?? []).flatMap((arm) => planArm(study, experiments, task, arm, 'muon', lrs, [2])),
        ];
      };
      for (const name of lms.filter((n) => study.tasks.some((t) => t.experiment === n))) {
        const runs = runsOf(name);
        expect(new Set(runs.map((p) => p.phase)), name).toEqual(new Set(['tune', 'stress', ...(name.includes('-d') ? [] : ['long']), ...(name === 'lm-moe' ? ['arm'] : [])]));
        for (const p of runs) expect(p.config.detectors, p.dirName).toEqual(LM_DETECTORS);
      }
      expect(runsOf('mnist-mlp')[0]!.config.detectors).toEqual(DEFAULT_DETECTORS);
      expect(runsOf('adam-spike-control')[0]!.config.detectors).toEqual(experiments.get('adam-spike-control')!.detectors);
    }
    expect(quick.tasks.filter((t) => t.detectors).map((t) => t.experiment)).toEqual(['lm-moe', 'lm-brown', 'lm-moe-d8', 'lm-moe-d32']);
    // v2 is unchanged: its LM runs count with the experiments' (default) detectors, so they keep their hashes.
    for (const v2 of [v2full, v2quick]) {
      expect(v2.tasks.some((t) => t.detectors)).toBe(false);
      const v2Experiments = await loadStudyExperiments(v2);
      const task = v2.tasks.find((t) => t.experiment === 'lm-moe')!;
      expect(planStress(v2, v2Experiments, task, 'muon', 0.01)[0]!.config.detectors).toEqual(DEFAULT_DETECTORS);
    }
    // The v3 and v2 stress runs of lm-moe differ in their detectors and nothing else.
    const [v3run, v2run] = [
      planStress(full, fullExperiments, full.tasks.find((t) => t.experiment === 'lm-moe')!, 'muon', 0.01, [1], [0])[0]!,
      planStress(v2full, await loadStudyExperiments(v2full), v2full.tasks.find((t) => t.experiment === 'lm-moe')!, 'muon', 0.01, [1], [0])[0]!,
    ];
    expect({ ...v3run.config, detectors: null }).toEqual({ ...v2run.config, detectors: null });
  });

  it('cost per phase: quick exercises every phase within 5 minutes (cost model, 2 workers)', () => {
    const q = estimateStudy(quick, quickExperiments, { workers: 2 });
    for (const k of ['tune', 'stress', 'ladder', 'long', 'arms'] as const) expect(q[k], k).toBeGreaterThan(0);
    expect(q.ladderRungs).toBe(2);
    expect(q.total).toBeLessThan(5 * 60);
    const f = estimateStudy(full, fullExperiments, { workers: 2 });
    expect(f.ladderRungs).toBe(8);
    // The long phase is costed at each task's own seeds: lm-moe's 10 extra runs a side cost time.
    const { seedsByTask: _own, ...sameSeeds } = full.long!;
    expect(f.long).toBeGreaterThan(estimateStudy({ ...full, long: sameSeeds }, fullExperiments, { workers: 2 }).long);
    // The LR does not change a run's cost, so 8 further rungs of the ladder tasks cost more than their first.
    expect(f.ladder).toBeGreaterThan(f.stress);
  });
});

describe('a tiny real ladder (seconds)', () => {
  const ladder: StudySpec = {
    name: 'v3-tiny-ladder',
    description: 'test fixture',
    tasks: [{ experiment: 'tiny-mlp', model: { kind: 'mlp', hidden: [8], activation: 'relu' } }],
    baseline: 'adamw',
    treatment: 'muon',
    seeds: [0, 1],
    tune: { grid: { adamw: [1e-3, 1e-2], muon: [0.01, 0.05] }, steps: 5 },
    stress: { multipliers: [1], steps: 6, ladder: { cap: 4 } },
    batchSize: 16,
    failureProgressShare: 0.5,
  };
  const mlp: ReadonlyMap<string, ExperimentSpec> = new Map([['tiny-mlp', tinyMlp]]);

  it('climbs rung by rung, then a rerun resumes with nothing to do and the same plan', async () => {
    await initBackend();
    const dir = tempDir('v3-ladder');
    try {
      const phases: [string, number, number][] = [];
      const first = await runStudy(ladder, mlp, dir, { workers: 1, events: { onPhase: (phase, runs, skipped) => phases.push([phase, runs, skipped]) } });
      const rungs = [...new Set(first.stress.map((p) => p.multiplier))];
      // Rung 1 always; each further rung only after the one below it finished (one round each).
      expect(rungs[0]).toBe(1);
      expect(rungs).toEqual(ladderRungs(4).slice(0, rungs.length));
      expect(phases.map((p) => p[0])).toEqual(['tune', 'stress', ...rungs.slice(1).map((m) => `ladder tiny-mlp ${m}×`)]);
      // Each round runs only its new rung (2 optimizers × 2 seeds); the rungs below are planned again, finished.
      expect(phases.slice(1).map(([, runs, skipped]) => [runs, skipped])).toEqual(rungs.map((_, i) => [4, 4 * i]));
      const again: [string, number, number][] = [];
      const second = await runStudy(ladder, mlp, dir, { workers: 1, events: { onPhase: (phase, runs, skipped) => again.push([phase, runs, skipped]) } });
      expect(again.every(([, runs]) => runs === 0)).toBe(true);
      expect(second.stress.map((p) => p.dirName)).toEqual(first.stress.map((p) => p.dirName));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('as Slurm runs it: tuning, one stress array per ladder round (2 tasks each), arms, then finish: the same runs and summaries as one machine', async () => {
    await initBackend();
    const single = tempDir('v3-ladder-single');
    const out = tempDir('v3-ladder-rounds');
    try {
      await runStudy(ladder, mlp, single, { workers: 1 });
      for (const { phase, round } of phaseRounds(ladder)) {
        for (const index of [0, 1]) await runPhaseTask(ladder, mlp, out, { phase, round, index, count: 2, workers: 1, checkpointEvery: 'auto' });
      }
      finishStudy(ladder, mlp, out);
      const runs = (dir: string) => readdirSync(join(dir, RUNS_DIR)).sort();
      expect(runs(out)).toEqual(runs(single));
      const body = (dir: string, name: string) => {
        const { wallSeconds: _w, ...rest } = readJSON<RunSummary>(join(dir, RUNS_DIR, name, SUMMARY_FILE));
        return rest;
      };
      for (const name of runs(single)) expect(body(out, name)).toEqual(body(single, name));
      // Each run ran in exactly one shard folder; later rounds wrote their own (stress-r1-0, …).
      const shardRuns = readdirSync(join(out, SHARDS_DIR)).flatMap((f) => readdirSync(join(out, SHARDS_DIR, f, RUNS_DIR)));
      expect(shardRuns.sort()).toEqual(runs(single));
      expect(readdirSync(join(out, SHARDS_DIR)).some((f) => f.startsWith('stress-r1-'))).toBe(true);
    } finally {
      rmSync(single, { recursive: true, force: true });
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('the analysis reads the v3 phases', () => {
  it('long-horizon cells from the long__ folders; ladder cells up to the highest rung reached; a fixed-LR task’s LRs', () => {
    const found = [
      'long__tiny-lm__muon__x1__s3',
      'long__tiny-lm__adamw__x2__s4',
      'stress__tiny-lm__adamw__x1__s0',
      'stress__tiny-lm__muon__x2__s1',
      'stress__tiny-mlp__muon__x1__s0',
    ];
    const runs = new Map(found.map((name) => [name, { name, summary: ok, digest: undefined }]));
    const cells = collectCells({ spec, experiments: Object.fromEntries(experiments), runs });
    const lmCells = cells.tasks.find((t) => t.task.experiment === 'tiny-lm')!;
    expect(lmCells.long.map((c) => [c.multiplier, c.plannedSteps, c.runsByLabel['muon']!.length, c.runsByLabel['adamw']!.length])).toEqual([
      [1, longHorizon(spec, experiments, lmTask).steps, 1, 0],
      [2, longHorizon(spec, experiments, lmTask).steps, 0, 1],
    ]);
    // The ladder reached 2× here: rungs 4× and 8× are neither cells nor missing runs.
    expect(lmCells.stress.map((c) => c.multiplier)).toEqual([1, 2]);
    expect(cells.missing.some((n) => n.includes('__x4__'))).toBe(false);
    expect(cells.expected.filter((n) => n.startsWith('stress__tiny-lm__'))).toHaveLength(2 * 2 * 4);
    const mlpCells = cells.tasks.find((t) => t.task.experiment === 'tiny-mlp')!;
    expect(mlpCells.long).toEqual([]);
    expect(mlpCells.stress[0]!.lrByLabel).toEqual({ adamw: 1e-2, muon: 0.05 });
  });
});
