/**
 * The primary family of a study, measured: for each pre-registered endpoint (verdict.ts) the per-run
 * samples of its cells, pooled over its multipliers, then `decideClaims` (Holm over the family only).
 * The per-run values are the ones endpoints.ts computes for the exploratory tables (late spikes per
 * 1k of a detector, final eval loss, …), so a primary endpoint and its exploratory twin can never
 * disagree about what a run contributed; time to failure uses the study's failure rule (failure.ts).
 *
 * Which cells an endpoint reads: the cells of its phase (arm 'none': the stress cells, or the
 * long-horizon cells for phase 'long') at every listed multiplier, all of which must exist; for an
 * arm, those of its listed multipliers where the arm ran (the arms run where either optimizer first
 * fails, which no spec can know before the runs), at least one; with rung 'first-failure', the one
 * stress cell at the arms' rung among the listed multipliers that ran (cells.ts, failureRungs).
 *
 * An endpoint the runs could not measure is passed to decideClaims with its reason: it enters Holm
 * with p = 1 and is inconclusive, and the rest of the family is decided (verdict.ts, PrimaryOutcome).
 */
import { failureRungs, type Cell, type StudyCells, type TaskCells } from './cells.js';
import { endpointSamples, failureObs } from './endpoints.js';
import { fmt3 } from './protocol.js';
import type { SurvivalObservation } from './survival.js';
import {
  decideClaims,
  phaseOf,
  validatePrimaryFamily,
  type EndpointSamples,
  type PrimaryEndpoint,
  type PrimaryOutcome,
  type SubClaimId,
  type UnmeasuredEndpoint,
} from './verdict.js';

type Measured = { readonly samples: EndpointSamples; readonly multipliers: readonly number[] } | { readonly why: string };

function cellsOf(e: PrimaryEndpoint, task: TaskCells, labels: readonly string[]): Cell[] | string {
  if (e.rung === 'first-failure') {
    // The ladder stops where both optimizers have failed: rungs above it have no cell, and need none.
    const ran = task.stress.filter((c) => e.multipliers.includes(c.multiplier));
    if (ran.length === 0) return `no stress cell at any of ${e.multipliers.map(fmt3).join(', ')}×`;
    const rung = failureRungs(ran, labels, task.failure, e.multipliers).multipliers[0]!;
    return [ran.find((c) => c.multiplier === rung)!];
  }
  if (e.arm === 'none') {
    const long = phaseOf(e) === 'long';
    const cells = e.multipliers.map((m) => (long ? task.long : task.stress).find((c) => c.multiplier === m));
    const gone = e.multipliers.filter((_, i) => !cells[i]);
    return gone.length ? `no ${long ? 'long-horizon' : 'stress'} cell at ${gone.map(fmt3).join(', ')}×` : (cells as Cell[]);
  }
  const cells = task.armCells.filter((c) => c.arm === e.arm && e.multipliers.includes(c.multiplier));
  return cells.length ? cells : `arm ${e.arm} did not run at ${e.multipliers.map(fmt3).join(', ')}×`;
}

function measure(e: PrimaryEndpoint, cells: StudyCells): Measured {
  const task = cells.tasks.find((t) => t.task.experiment === e.task);
  if (!task) return { why: `task ${e.task} is not in the study` };
  const { baseline, treatment } = cells.spec;
  const found = cellsOf(e, task, [baseline, treatment]);
  if (typeof found === 'string') return { why: found };
  const multipliers = found.map((c) => c.multiplier);
  if (e.metric === 'time to failure') {
    const obs = (label: string): SurvivalObservation[] => found.flatMap((c) => (c.runsByLabel[label] ?? []).map((r) => failureObs(r.summary, task.failure)));
    const [b, t] = [obs(baseline), obs(treatment)];
    if (b.length === 0 || t.length === 0) return { why: 'a side has no finished run' };
    return { samples: { kind: 'survival', baseline: b, treatment: t }, multipliers };
  }
  const name = e.detector === null ? e.metric : `${e.metric} (${e.detector})`;
  const b: number[] = [];
  const t: number[] = [];
  for (const c of found) {
    const s = endpointSamples(c, { baseline, treatment }, task.failure, task.detectors).find((x) => x.metric === name);
    // Spike rates need enough non-diverged runs with records on each side (endpoints.ts): a cell
    // without them leaves the pooled endpoint unmeasured rather than silently smaller.
    if (!s) return { why: `${name} has no sample at ${fmt3(c.multiplier)}× (too few runs that did not diverge, or no such metric)` };
    b.push(...s.baseline);
    t.push(...s.treatment);
  }
  return { samples: { kind: 'values', baseline: b, treatment: t }, multipliers };
}

/** The primary family's outcome, or null when the spec pre-registers none (a v2 study). */
export function decidePrimary(cells: StudyCells): PrimaryOutcome | null {
  const family = cells.spec.primary;
  if (family === undefined) return null;
  validatePrimaryFamily(family);
  const samples: Partial<Record<SubClaimId, EndpointSamples>> = {};
  const why: Partial<Record<SubClaimId, string>> = {};
  const multipliersUsed: Partial<Record<SubClaimId, readonly number[]>> = {};
  const unmeasured: UnmeasuredEndpoint[] = [];
  for (const e of family) {
    const m = measure(e, cells);
    if ('why' in m) {
      unmeasured.push({ endpoint: e, why: m.why });
      why[e.subClaim] = m.why;
    } else {
      samples[e.subClaim] = m.samples;
      multipliersUsed[e.subClaim] = m.multipliers;
    }
  }
  return { family, decision: decideClaims(family, samples, [], { unmeasured: why }), unmeasured, multipliersUsed };
}
