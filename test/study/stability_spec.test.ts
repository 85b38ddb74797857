/**
 * The shipped stability study (experiments/studies/stability.ts) against the study protocol: the
 * language-model tasks with a late stage ≥ 3× their tuning horizon, every arm on the MoE LM, the
 * quick study exercising the same tasks and arms, and the full study's cost-model estimate within
 * the 3-hour budget on 2 workers.
 */
import { describe, expect, it } from 'vitest';
import { full, quick } from '../../experiments/studies/stability.js';
import { full as v3full, quick as v3quick } from '../../experiments/studies/stability-v3.js';
import { loadExperimentSpec } from '../../src/catalog/experiments.js';
import { estimateRunSeconds } from '../../src/study/cost.js';
import { planStress, planTuning, stressStepsOf, tuneStepsOf, validateStudy, type StudySpec } from '../../src/study/protocol.js';
import { estimateStudy, runnableArms } from '../../src/study/study.js';
import type { ExperimentSpec } from '../../src/train/config.js';

async function experimentsOf(study: StudySpec): Promise<Map<string, ExperimentSpec>> {
  return new Map(await Promise.all(study.tasks.map(async (t) => [t.experiment, await loadExperimentSpec(t.experiment)] as const)));
}

describe('the shipped stability study', () => {
  it('has the MoE LM and its dense control, each stressed ≥ 3× its tuning horizon, warm-up then constant', async () => {
    const experiments = await experimentsOf(full);
    for (const name of ['lm-moe', 'lm-brown']) {
      const task = full.tasks.find((t) => t.experiment === name)!;
      expect(task, name).toBeDefined();
      expect(stressStepsOf(full, task) / tuneStepsOf(full, task)).toBeGreaterThanOrEqual(3);
      const [p] = planStress(full, experiments, task, 'adamw', 1e-3);
      expect(p!.config.schedule).toEqual({ kind: 'constant', warmup: 50 });
      // The task's own sizes: context 32, 16 windows a batch.
      expect(p!.config.batchSize).toBe(16);
      expect(p!.config.model.kind === 'transformer' && p!.config.model.context).toBe(32);
    }
  });

  it('runs every mitigation, precision, step-size and schedule arm on the MoE LM', async () => {
    const experiments = await experimentsOf(full);
    const lm = full.tasks.find((t) => t.experiment === 'lm-moe')!;
    expect(runnableArms(lm, experiments).sort()).toEqual(['bf16', 'fp4', 'muon-match-rms', 'qkClip', 'qkNorm', 'wsd', 'zLoss']);
  });

  it('v3 pre-registers one primary endpoint per sub-claim (a)–(g), on tasks and arms it runs; v2, finished before, has none', () => {
    for (const spec of [v3full, v3quick]) {
      expect(() => validateStudy(spec)).not.toThrow();
      expect(spec.primary?.map((e) => e.subClaim)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
      for (const e of spec.primary ?? []) {
        const task = spec.tasks.find((t) => t.experiment === e.task);
        expect(task, e.task).toBeDefined();
        if (e.arm !== 'none') expect((task!.arms ?? []) as readonly string[]).toContain(e.arm);
      }
    }
    expect(full.primary).toBeUndefined();
    expect(quick.primary).toBeUndefined();
  });

  it('quick: the same tasks and the same arms, on smaller horizons', async () => {
    expect(quick.tasks.map((t) => [t.experiment, t.arms ?? []])).toEqual(full.tasks.map((t) => [t.experiment, t.arms ?? []]));
    const experiments = await experimentsOf(quick);
    for (const t of quick.tasks) expect(runnableArms(t, experiments)).toEqual((t.arms ?? []).filter((a) => a !== 'none'));
    expect(planTuning(quick, experiments).length).toBeLessThan(planTuning(full, experiments).length);
  });

  it('fits the 3-hour budget on 2 workers by the cost model, and the quick study 5 minutes', async () => {
    const full2 = estimateStudy(full, await experimentsOf(full), { workers: 2 });
    expect(full2.total).toBeLessThan(3 * 3600);
    const quick2 = estimateStudy(quick, await experimentsOf(quick), { workers: 2 });
    expect(quick2.total).toBeLessThan(5 * 60);
  });

  it('the cost model charges the transformer its measured rates: Muon on expert banks costs more than AdamW', async () => {
    const experiments = await experimentsOf(full);
    const lm = full.tasks.find((t) => t.experiment === 'lm-moe')!;
    const cost = (label: string) => estimateRunSeconds(planStress(full, experiments, lm, label, 1e-3)[0]!.config);
    expect(cost('muon')).toBeGreaterThan(1.5 * cost('adamw'));
  });
});
