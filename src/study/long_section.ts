/**
 * Exploratory section "Long horizon" (study v3): per long-horizon cell (task × multiplier) its length
 * (steps, tokens, tokens per active non-embedding parameter: longHorizon in long_width.ts), and per
 * optimizer the runs, divergences, final eval loss and late spikes of each detector (the
 * rolling median's first: the one the primary spike endpoints count), with exact two-sided rank-sum p-values (exact.ts) that are unadjusted and belong to no family.
 * The per-run values are the stress cells' (endpoints.ts), over the long horizon.
 */
import { renderTable } from '../text/table.js';
import { DEFAULT_NAMES } from '../train/spikes.js';
import type { StudyCells } from './cells.js';
import { endpointSamples, labelCells, type EndpointSample } from './endpoints.js';
import { rankSumTest } from './exact.js';
import { longHorizon } from './long_width.js';
import { multLabel } from './protocol.js';
import { exploratory, num } from './report_format.js';
import type { LongResult, LongSide, StudyResults } from './results.js';

/** The detector whose late spikes the section reads: the rolling median (the calibration's recommendation, docs/study-v3-design.md). */
export const LONG_DETECTOR = DEFAULT_NAMES.rollingMedian;

/** Every long-horizon cell of the study, task by task; none without the phase. */
export function longResults(cells: StudyCells): LongResult[] {
  const { spec } = cells;
  if (!spec.long) return [];
  const sides = { baseline: spec.baseline, treatment: spec.treatment };
  const experiments = new Map(Object.entries(cells.experiments));
  return cells.tasks.flatMap((t) => {
    if (t.long.length === 0) return [];
    const h = longHorizon(spec, experiments, t.task);
    return t.long.map((c): LongResult => {
      // A detector no run recorded would read as "no spikes": leave it out instead.
      const recorded = (d: string) => Object.values(c.runsByLabel).some((runs) => runs.some((r) => d in r.summary.spikes));
      const detectors = [LONG_DETECTOR, ...t.detectors.filter((d) => d !== LONG_DETECTOR)].filter(recorded);
      const byLabel = Object.fromEntries(
        Object.entries(labelCells(c, t.failure, detectors)).map(([label, x]): [string, LongSide] => [
          label,
          { n: x.n, diverged: x.diverged, finalEvalLoss: x.finalEvalLoss, lateSpikes: x.lateSpikesPer1k },
        ]),
      );
      const samples = endpointSamples(c, sides, t.failure, detectors);
      const p = (slot: EndpointSample['slot'], detector?: string) => {
        const s = samples.find((x) => x.slot === slot && (detector === undefined || x.detector === detector));
        return s ? rankSumTest(s.treatment, s.baseline).pValue : null;
      };
      return {
        task: c.task,
        multiplier: c.multiplier,
        steps: c.plannedSteps,
        tokens: h.tokens,
        tokensPerActiveParam: h.tokensPerActiveParam,
        detectors,
        byLabel,
        finalEvalP: p('finalEval'),
        lateSpikesP: Object.fromEntries(detectors.map((d) => [d, p('lateSpikes', d)])),
      };
    });
  });
}

/** The section, or '' for a study without a long-horizon phase. */
export function longSection(r: StudyResults): string {
  const cells = r.phases.long;
  if (cells.length === 0) return '';
  const labels = [r.spec.baseline, r.spec.treatment];
  // One column per detector any cell recorded, in the cells' order (the rolling median first).
  const detectors = [...new Set(cells.flatMap((c) => c.detectors))];
  const rows = cells.flatMap((c) => {
    const at = [c.task, multLabel(c.multiplier), `${c.steps} (${num(c.tokens)}; ${num(c.tokensPerActiveParam)}/param)`];
    return [
      ...labels.map((label) => {
        const s = c.byLabel[label];
        return [...at, label, String(s?.n ?? 0), String(s?.diverged ?? '—'), num(s?.finalEvalLoss?.median), ...detectors.map((d) => num(s?.lateSpikes[d]?.median))];
      }),
      [...at, 'exact p, unadjusted', '', '', num(c.finalEvalP), ...detectors.map((d) => num(c.lateSpikesP[d]))],
    ];
  });
  return [
    '## Long horizon',
    '',
    exploratory('the late stage over a long horizon, outside the pre-registered family'),
    '',
    `Ordinary runs at each optimizer's tuned LR × the multiplier (the experiment's warm-up, then constant) for ${r.spec.long?.tokensPerActiveParam} tokens per active non-embedding parameter. Final eval loss: median over the runs that did not diverge; its p counts a diverged run as its initial loss. Late spikes: events of each detector that start in the last half, per 1k steps of that half, median over the runs that did not diverge (— when fewer than 2 a side, or not recorded); the pre-registered spike endpoints count the ${LONG_DETECTOR} detector's. p: exact two-sided Wilcoxon rank-sum of ${r.spec.treatment} against ${r.spec.baseline} (exact with ties too), unadjusted for multiplicity.`,
    '',
    renderTable(['task', 'LR', 'steps (tokens; per active param)', 'optimizer', 'runs', 'diverged', 'final eval loss, median', ...detectors.map((d) => `late spikes/1k (${d}), median`)], rows),
  ].join('\n');
}
