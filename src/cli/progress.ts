/**
 * Progress over a batch of runs: one bar with ETA, the runs done, and the latest loss. On a
 * non-TTY stream (CI, a log file) it prints a plain line every few seconds instead.
 */
import cliProgress from 'cli-progress';
import { formatNumber } from './table.js';

export interface ProgressReporter {
  start(totalSteps: number, totalRuns: number): void;
  step(runIndex: number, step: number, loss: number): void;
  /** `plannedSteps`: a run that stopped early (diverged) still counts as all its steps done. */
  runDone(runIndex: number, label: string, plannedSteps: number): void;
  stop(): void;
}

/**
 * An ETA as `42s`, `12m05s` or `1h05m`. Rounds the whole duration first and then splits it, so
 * seconds roll over into minutes (cli-progress's own formatter rounds the remainder and printed
 * `12m60s`). `roundTo` seconds (5 for the bar) keeps the figure from flickering.
 */
export function formatEta(seconds: number, roundTo = 1): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const step = roundTo > 0 ? roundTo : 1;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (seconds < 10) return `${Math.round(seconds)}s`;
  const s = Math.round(seconds / step) * step;
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  const minutes = Math.round(s / 60);
  return `${Math.floor(minutes / 60)}h${pad(minutes % 60)}m`;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  const stepsByRun = new Map<number, number>();
  let totalRuns = 0;
  let runsDone = 0;
  let lastLoss = NaN;
  let lastLabel = '';
  const done = () => [...stepsByRun.values()].reduce((a, b) => a + b, 0);
  const payload = () => ({ runs: `${runsDone}/${totalRuns} runs`, loss: formatNumber(lastLoss), label: lastLabel });
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: '{bar} {percentage}% | ETA {eta_formatted} | {runs} | loss {loss} {label}',
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 200,
      formatTime: (t: number, _options: unknown, roundTo: number) => formatEta(t, roundTo),
      fps: 5,
      noTTYOutput: !stream.isTTY,
      notTTYSchedule: 5000,
    },
    cliProgress.Presets.shades_classic,
  );
  return {
    start(totalSteps, runs) {
      totalRuns = runs;
      bar.start(Math.max(1, totalSteps), 0, payload());
    },
    step(runIndex, step, loss) {
      stepsByRun.set(runIndex, step);
      lastLoss = loss;
      bar.update(done(), payload());
    },
    runDone(runIndex, label, plannedSteps) {
      runsDone += 1;
      stepsByRun.set(runIndex, plannedSteps);
      lastLabel = `(last: ${label})`;
      bar.update(done(), payload());
    },
    stop() {
      bar.stop();
    },
  };
}
