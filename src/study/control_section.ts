/**
 * Exploratory section "Positive control" (study v3): the fixed-LR tasks (`fixedLr`, the positive
 * control: its hand-picked LRs are set where AdamW is known to spike). Per cell, optimizer and
 * detector, the spike events per 1k steps over every seed (median, min, max) and how many seeds had
 * at least one: a check of the instruments, that the detectors fire where spikes are expected; a
 * detector silent here makes "no spikes" elsewhere uninformative. Beside them, the loss level each
 * optimizer reached, and whether the two overlap.
 */
import { renderTable } from '../text/table.js';
import type { StudyCells } from './cells.js';
import { spikeRate } from './endpoints.js';
import { multLabel } from './protocol.js';
import { exploratory, num, pct } from './report_format.js';
import type { ControlResult, StudyResults } from './results.js';
import { summarize, type Summary } from './stats.js';
import type { RunSummary } from '../train/run.js';

/** Final eval losses of the runs that did not diverge (a diverged run's last evaluation predates its blow-up). */
function finalEval(runs: readonly RunSummary[]): Summary | null {
  const xs = runs.filter((s) => !s.diverged && s.evalLoss !== null && Number.isFinite(s.evalLoss)).map((s) => s.evalLoss!);
  return xs.length ? summarize(xs) : null;
}

/**
 * Whether the two optimizers' final eval losses in a cell overlap ([min, max] of each): Adam's
 * spikes come at low loss, so an optimizer that stays higher avoids them trivially.
 */
function sameRange(rows: readonly ControlResult[]): string {
  const [a, b] = rows.map((x) => x.finalEvalLoss);
  if (!a || !b) return 'cannot be compared (an optimizer has no run that finished)';
  return a.max >= b.min && b.max >= a.min ? 'overlap: the spike rates compare runs at the same loss level' : 'do not overlap: the optimizer that stays higher may avoid the spikes by not reaching their regime';
}

/** Every fixed-LR task's spike counts, cell by cell; none without such a task. */
export function controlResults(cells: StudyCells): ControlResult[] {
  const labels = [cells.spec.baseline, cells.spec.treatment];
  return cells.tasks
    .filter((t) => t.task.fixedLr)
    .flatMap((t) =>
      t.stress.flatMap((c) =>
        t.detectors.flatMap((detector) =>
          labels.flatMap((label): ControlResult[] => {
            const runs = (c.runsByLabel[label] ?? []).map((r) => r.summary);
            if (runs.length === 0) return [];
            return [
              {
                task: c.task,
                multiplier: c.multiplier,
                label,
                lr: c.lrByLabel[label] ?? NaN,
                detector,
                n: runs.length,
                diverged: runs.filter((s) => s.diverged).length,
                // Every run counts, a diverged one over the steps it completed: the question is whether the detectors fire at all.
                spikesPer1k: summarize(runs.map((s) => spikeRate(s, detector))),
                withSpike: runs.filter((s) => (s.spikes[detector] ?? 0) > 0).length,
                finalEvalLoss: finalEval(runs),
              },
            ];
          }),
        ),
      ),
    );
}

/** One detector's rows of each cell (the loss level does not depend on the detector). */
function cellsOf(rows: readonly ControlResult[]): ControlResult[][] {
  const first = rows[0]!.detector;
  const keys = [...new Set(rows.map((x) => `${x.task} ${x.multiplier}`))];
  return keys.map((k) => rows.filter((x) => x.detector === first && `${x.task} ${x.multiplier}` === k));
}

/** The section, or '' for a study without a positive control. */
export function controlSection(r: StudyResults): string {
  const rows = r.phases.control;
  if (rows.length === 0) return '';
  const tasks = [...new Set(rows.map((x) => x.task))];
  return [
    '## Positive control',
    '',
    exploratory(`a check that the spike detectors fire where ${r.spec.baseline} is known to spike`),
    '',
    `${tasks.join(', ')} runs at its experiment's hand-picked LRs (not tuned: tuning for the lowest loss would move it away from the spiking regime). Per optimizer and detector, spike events per 1k completed steps over every run, a diverged one included, the runs with at least one spike event, and the loss level the runs reached (final eval loss of those that did not diverge): Adam's spikes of this kind come at low loss, so an optimizer whose runs stay higher avoids them trivially, and the lines below the table say whether the two optimizers' ranges overlap. The schedule is constant, so nothing here brings them to the same range when they do not. If ${r.spec.baseline}'s runs show few spikes here, the detectors (or the control's setting) miss the spikes they are meant to count, and a low spike count elsewhere says little about stability.`,
    '',
    renderTable(
      ['task', 'multiplier', 'detector', 'optimizer', 'LR', 'runs', 'diverged', 'spikes/1k median [min–max]', 'seeds with ≥ 1 spike', 'final eval loss median [min–max]'],
      rows.map((x) => [
        x.task,
        multLabel(x.multiplier),
        x.detector,
        x.label,
        num(x.lr),
        String(x.n),
        String(x.diverged),
        `${num(x.spikesPer1k.median)} [${num(x.spikesPer1k.min)}–${num(x.spikesPer1k.max)}]`,
        `${pct(x.withSpike / x.n)} (${x.withSpike}/${x.n})`,
        x.finalEvalLoss ? `${num(x.finalEvalLoss.median)} [${num(x.finalEvalLoss.min)}–${num(x.finalEvalLoss.max)}]` : '—',
      ]),
    ),
    '',
    ...cellsOf(rows).map((c) => `- ${c[0]!.task} at ${multLabel(c[0]!.multiplier)}: the optimizers' final eval losses ${sameRange(c)}.`),
  ].join('\n');
}
