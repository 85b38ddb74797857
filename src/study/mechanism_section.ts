/**
 * Exploratory section "Second-moment spike mechanism" (study v3): per task, phase (stress ladder, long
 * horizon), optimizer and Adam group, whether the spike events come where the mechanism of Bai et
 * al. 2025 (docs/references.md#adam-spikes) predicts them: after steps where many coordinates'
 * squared gradients sit far below their second moment. From the runs' digests (digest.ts
 * Mechanism); descriptive, no test.
 */
import { renderTable } from '../text/table.js';
import { SMALL_GRAD_FRACTION } from '../optimizers/transforms.js';
import type { Cell, StudyCells } from './cells.js';
import { MECHANISM_GAP, MECHANISM_WINDOW } from './digest.js';
import { exploratory, medIqr, pct } from './report_format.js';
import type { MechanismRow, StudyResults } from './results.js';
import { summarize } from './stats.js';

/** One row per task × phase × optimizer × group whose runs logged the signal. */
export function mechanismResults(cells: StudyCells): MechanismRow[] {
  const labels = [cells.spec.baseline, cells.spec.treatment];
  const phases = (t: StudyCells['tasks'][number]): [MechanismRow['phase'], readonly Cell[]][] => [
    ['stress', t.stress],
    ['long', t.long],
  ];
  return cells.tasks.flatMap((t) =>
    phases(t).flatMap(([phase, cs]) =>
      labels.flatMap((label) => {
        const digests = cs.flatMap((c) => (c.runsByLabel[label] ?? []).flatMap((r) => (r.digest ? [r.digest] : [])));
        const groups = [...new Set(digests.flatMap((d) => Object.keys(d.mechanism)))].sort();
        return groups.map((group): MechanismRow => {
          const runs = digests.flatMap((d) => (d.mechanism[group] ? [d.mechanism[group]] : []));
          const before: number[] = [];
          const excess: number[] = [];
          for (const m of runs) {
            for (const b of m.beforeEvents) {
              if (b === null) continue;
              before.push(b);
              excess.push(b - m.mean);
            }
          }
          return {
            task: t.task.experiment,
            phase,
            label,
            group,
            runs: runs.length,
            runMean: summarize(runs.map((m) => m.mean)),
            events: before.length,
            before: before.length ? summarize(before) : null,
            excess: excess.length ? summarize(excess) : null,
            above: excess.filter((x) => x > 0).length,
          };
        });
      }),
    ),
  );
}

/** The section, or '' when no run logged the signal. */
export function mechanismSection(r: StudyResults): string {
  const rows = r.phases.mechanism;
  if (rows.length === 0) return '';
  return [
    "## Second-moment spike mechanism",
    '',
    exploratory('whether spike events follow the second-moment mechanism, where there are any'),
    '',
    `Bai et al. 2025 trace Adam's loss spikes to the second-moment estimate v decaying while the squared gradients sit far below it, so that when gradients return the update g/√v is far larger than intended. The signal: per Adam group (${r.spec.baseline}'s parameters, and the non-matrix parameters Muon updates with its internal AdamW), the share of coordinates with g² < ${SMALL_GRAD_FRACTION}·v̂ at a step. Per task and phase, pooled over its cells, in the last half of each run (as for the late spike endpoints: earlier, the share moves with the warm-up and v̂'s bias correction): the share's mean over each run's last half (median [IQR] over runs), the mean over the ${MECHANISM_WINDOW} steps ending ${MECHANISM_GAP} steps before the first flagged step of each spike event that starts in the last half (any detector; the gap skips the instability's own rise, during which large gradients already lower the share; median [IQR] over events), that minus its run's mean, and the events where it is higher. If the mechanism drives the spikes, the share before them is well above the run's mean.`,
    '',
    renderTable(
      ['task', 'phase', 'optimizer', 'group', 'runs', 'share, mean of last half', 'late spike events', 'share before events', 'before − run mean', 'events above run mean'],
      rows.map((x) => [
        x.task,
        x.phase,
        x.label,
        x.group,
        String(x.runs),
        medIqr(x.runMean),
        String(x.events),
        medIqr(x.before),
        medIqr(x.excess),
        x.events ? `${pct(x.above / x.events)} (${x.above}/${x.events})` : '—',
      ]),
    ),
  ].join('\n');
}
