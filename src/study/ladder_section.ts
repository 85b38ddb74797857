/**
 * Exploratory section "Stress ladder" (study v3): per task on the ladder, the rungs that ran, each
 * optimizer's share of failed runs at each rung (the failure rule of failure.ts), and where and why
 * the ladder stopped, by the same rule the study climbed with (ladderNext). Computed from the cells,
 * rendered from the results.
 */
import { renderTable } from '../text/table.js';
import { failureRungs, type StudyCells } from './cells.js';
import { isFailed, ladderNext } from './failure.js';
import { ladderRungs, multLabel, onLadder, seedsOf } from './protocol.js';
import { exploratory, pct } from './report_format.js';
import type { LadderResult, StudyResults } from './results.js';

/** Every ladder task's climb; none when the study has no ladder. */
export function ladderResults(cells: StudyCells): LadderResult[] {
  const { spec } = cells;
  const cap = spec.stress.ladder?.cap;
  if (cap === undefined) return [];
  const labels = [spec.baseline, spec.treatment];
  return cells.tasks
    .filter((t) => onLadder(spec, t.task))
    .map((t): LadderResult => {
      const found = (label: string, m: number) => (t.stress.find((c) => c.multiplier === m)?.runsByLabel[label] ?? []).map((r) => r.summary);
      const seeds = seedsOf(spec, t.task).length;
      // ladderNext reads a run not found as undefined: pad each rung's runs to the seeds it expects.
      const runsAt = (label: string, m: number) => {
        const runs = found(label, m);
        return [...runs, ...Array.from({ length: Math.max(0, seeds - runs.length) }, () => undefined)];
      };
      const next = ladderNext(ladderRungs(cap), labels, runsAt, t.failure);
      // Where each optimizer first failed in half its runs: the rule that places the arms (cells.ts).
      const { firsts } = failureRungs(t.stress, labels, t.failure, []);
      const rungs = t.stress
        .filter((c) => labels.some((l) => found(l, c.multiplier).length > 0))
        .map((c) => ({
          multiplier: c.multiplier,
          byLabel: Object.fromEntries(labels.map((l) => [l, { failed: found(l, c.multiplier).filter((s) => isFailed(s, t.failure)).length, n: found(l, c.multiplier).length }])),
        }));
      const stop = next !== null ? 'unfinished' : labels.every((l) => firsts[l] !== null) ? 'both failed' : 'cap';
      return { task: t.task.experiment, cap, rungs, firstFailure: firsts, stop, next };
    });
}

function stopText(l: LadderResult, labels: readonly string[]): string {
  const firsts = labels.map((x) => `${x} from ${l.firstFailure[x] === null ? '—' : multLabel(l.firstFailure[x]!)}`).join(', ');
  if (l.stop === 'unfinished') return `unfinished: rung ${multLabel(l.next!)} has runs missing (${firsts})`;
  if (l.stop === 'both failed') return `both failed in ≥ half their runs (${firsts})`;
  const never = labels.filter((x) => l.firstFailure[x] === null);
  return `at the cap ${multLabel(l.cap)}: ${never.join(' and ')} never failed in half its runs (${firsts})`;
}

/** The section, or '' for a study without a ladder. */
export function ladderSection(r: StudyResults): string {
  const rows = r.phases.ladder;
  if (rows.length === 0) return '';
  const labels = [r.spec.baseline, r.spec.treatment];
  const shares = (l: LadderResult, label: string) =>
    l.rungs
      .map((g) => {
        const c = g.byLabel[label]!;
        return `${multLabel(g.multiplier)} ${c.n ? `${pct(c.failed / c.n)} (${c.failed}/${c.n})` : '—'}`;
      })
      .join(' · ');
  return [
    '## Stress ladder',
    '',
    exploratory('how far each task climbed the stress ladder, and where each optimizer started to fail'),
    '',
    `Rungs 1×, 2×, 4×, … the tuned LR up to the cap, one at a time per task, until each optimizer has failed (the rule under "Protocol") in at least half its runs at some rung, or the cap. Per rung: the share of each optimizer's runs that failed (failed/runs found). "from" is the lowest rung where at least half failed (— : none).`,
    '',
    renderTable(
      ['task', 'rungs run', ...labels.map((x) => `${x}: failed per rung`), 'stopped'],
      rows.map((l) => [l.task, l.rungs.map((g) => multLabel(g.multiplier)).join(', '), ...labels.map((x) => shares(l, x)), stopText(l, labels)]),
    ),
  ].join('\n');
}
