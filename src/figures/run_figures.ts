/**
 * Figures of plain run folders (`view --html/--svg`, `npm start`): per experiment, the training
 * loss and eval loss with median/IQR over seeds per optimizer, spike and divergence markers, and
 * the MoE balance and LM attention metrics when the runs record them.
 */
import { seriesLabel, type LoadedRun } from '../train/run_dirs.js';
import { curvePanels, lossUnit, metricsPresent, seedsPhrase, type RunData } from './curves.js';
import { seriesColours } from '../text/palette.js';
import { curveFigure, type Figure } from './specs.js';

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) m.set(key(it), [...(m.get(key(it)) ?? []), it]);
  return m;
}

const toRunData = (r: LoadedRun): RunData => ({ seed: r.config.seed, records: r.metrics, diverged: r.summary?.diverged === true });

export function runFigures(runs: readonly LoadedRun[]): Figure[] {
  const figures: Figure[] = [];
  const push = (f: Figure | null) => void (f && figures.push(f));
  for (const [experiment, expRuns] of groupBy(runs, (r) => r.config.experiment)) {
    const series = [...groupBy(expRuns, seriesLabel)].map(([label, rs]) => ({ label, runs: rs.map(toRunData) }));
    const groups = [{ title: experiment, series }];
    const counts = series.map((s) => s.runs.length);
    const diverged = expRuns.filter((r) => r.summary?.diverged).length;
    const unfinished = expRuns.filter((r) => !r.summary).length;
    const seedsText =
      `${seedsPhrase(counts)} per optimizer` +
      (diverged ? `; ${diverged} of ${expRuns.length} runs diverged` : '') +
      (unfinished ? `; ${unfinished} unfinished (no summary.json)` : '');
    const unit = lossUnit(expRuns[0]!.config);
    // Assigned per experiment in series order, exactly as the terminal chart of the same runs does.
    const local = seriesColours(series.map((s) => s.label));
    push(
      curveFigure({
        id: `loss-${experiment}`,
        section: experiment,
        title: `${experiment}: training loss`,
        caption: `Training loss per step (log scale), median over seeds (line) and interquartile range (band) of the runs still going, per optimizer; ▲ loss-spike events (any detector), ✕ divergences. ${seedsText}.`,
        panels: curvePanels(groups, 'loss', { spikes: true }),
        yTitle: `training loss (${unit})`,
        logY: true,
        colours: local,
      }),
    );
    const all = series.flatMap((s) => s.runs);
    if (all.some((r) => r.records.some((x) => typeof x.evalLoss === 'number'))) {
      push(
        curveFigure({
          id: `eval-${experiment}`,
          section: experiment,
          title: `${experiment}: eval loss`,
          caption: `Held-out eval loss at each evaluation (log scale), median and interquartile range over seeds, per optimizer; ✕ divergences. ${seedsText}.`,
          panels: curvePanels(groups, 'evalLoss', { spikes: false }),
          yTitle: `eval loss (${unit})`,
          logY: true,
          colours: local,
        }),
      );
    }
    for (const m of metricsPresent(all)) {
      push(
        curveFigure({
          id: `${m.slug}-${experiment}`,
          section: experiment,
          title: `${experiment}: ${m.name}`,
          caption: `${m.why} Median and interquartile range over seeds per step. ${seedsText}.`,
          panels: curvePanels(groups, m.field, { spikes: false }),
          yTitle: m.yTitle,
          logY: m.logY,
          colours: local,
        }),
      );
    }
  }
  return figures;
}
