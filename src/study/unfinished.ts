/**
 * Which phases of a study still have runs to do, from its cells alone (no I/O), and the note that
 * says so at the top of its report. A study is published part-way on purpose (a bundle carries a
 * long study from one sitting to the next, restore.ts), and its report must not read as final.
 *
 * The phases are the runner's (study.ts): tuning; stress (fixed multipliers and the ladder's first
 * rung); the ladder's further rungs; the long horizon; the arms. The analysis expects only the
 * rungs some run reached, so missing runs alone cannot tell an unfinished ladder: its stopping rule
 * (failure.ts ladderNext) is applied to the rungs found, as the runner applies it, and names the
 * next rung. The arms' multipliers follow from the stress results, so while an earlier phase is
 * unfinished, where the arms run is not settled and their runs are not counted.
 */
import { count } from '../text/plural.js';
import type { RunSummary } from '../train/run.js';
import type { Cell, StudyCells } from './cells.js';
import { ladderNext } from './failure.js';
import { armSeedsOf, multLabel, onLadder, planTuning, seedsOf, stressMultipliersOf } from './protocol.js';
import type { StudyResults, UnfinishedPhase } from './results.js';
import { runnableArms } from './study.js';

/** Runs a cell lacks: `seeds` per label of its own, less those found. */
const missingIn = (c: Cell, seeds: number) => c.ownLabels.reduce((a, l) => a + Math.max(0, seeds - (c.runsByLabel[l]?.length ?? 0)), 0);

/** The phases with runs to do, in run order; empty for a finished study. */
export function unfinishedPhases(cells: StudyCells): UnfinishedPhase[] {
  const { spec } = cells;
  const experiments = new Map(Object.entries(cells.experiments));
  const labels = [spec.baseline, spec.treatment];
  const absent = new Set(cells.missing);
  const tuning = planTuning(spec, experiments).filter((p) => absent.has(p.dirName)).length;
  let stress = 0;
  let ladder = 0;
  let long = 0;
  let arms = 0;
  const next: Record<string, number> = {};
  for (const t of cells.tasks) {
    const seeds = seedsOf(spec, t.task).length;
    const rungs = stressMultipliersOf(spec, t.task);
    const climbing = onLadder(spec, t.task);
    for (const c of t.stress) {
      if (climbing && c.multiplier > rungs[0]!) ladder += missingIn(c, seeds);
      else stress += missingIn(c, seeds);
    }
    if (climbing) {
      const runsAt = (label: string, m: number): (RunSummary | undefined)[] => {
        const found = t.stress.find((c) => c.multiplier === m)?.runsByLabel[label]?.map((r) => r.summary) ?? [];
        return [...found, ...Array<undefined>(Math.max(0, seeds - found.length)).fill(undefined)];
      };
      const rung = ladderNext(rungs, labels, runsAt, t.failure);
      // The first rung is the stress phase's; a later one still to run leaves the ladder unfinished.
      if (rung !== null && rung > rungs[0]!) next[t.task.experiment] = rung;
    }
    long += t.long.reduce((a, c) => a + missingIn(c, spec.long?.seeds.length ?? 0), 0);
    for (const c of t.armCells) arms += missingIn(c, armSeedsOf(spec, t.task, c.arm).length);
  }
  const out: UnfinishedPhase[] = [];
  if (tuning > 0) out.push({ phase: 'tuning', missing: tuning });
  if (stress > 0) out.push({ phase: 'stress', missing: stress });
  if (ladder > 0 || Object.keys(next).length > 0) out.push({ phase: 'ladder', missing: ladder, next });
  if (long > 0) out.push({ phase: 'long horizon', missing: long });
  const placed = tuning === 0 && stress === 0 && ladder === 0 && Object.keys(next).length === 0;
  const hasArms = spec.tasks.some((task) => runnableArms(task, experiments).length > 0);
  if (hasArms && (!placed || arms > 0)) out.push({ phase: 'arms', missing: placed ? arms : null });
  return out;
}

/** The report's note on an unfinished study (undefined for a finished one): one paragraph, placed under the title. */
export function unfinishedNote(r: StudyResults): string | undefined {
  if (r.unfinished.length === 0) return undefined;
  const what = (p: UnfinishedPhase): string => {
    if (p.phase === 'arms' && p.missing === null) return 'arms (placed where the stress runs first fail, once those are finished)';
    const rungs = Object.entries(p.next ?? {}).map(([task, m]) => `${task} next at ${multLabel(m)}`);
    const runs = p.missing ? [`${count(p.missing, 'run')} missing`] : [];
    return `${p.phase} (${[...runs, ...rungs].join('; ')})`;
  };
  return (
    `**Unfinished study**: ${r.runsFound} runs found; phases not finished: ${r.unfinished.map(what).join(', ')}. ` +
    'Every number below is from the runs found so far. To finish it, run the study command again on its folder (on a published bundle: restore it into a folder first, docs/study.md).'
  );
}
