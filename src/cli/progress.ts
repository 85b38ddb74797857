/**
 * Progress over a batch of runs: one bar with ETA, the runs done, and the latest loss. On a
 * non-TTY stream (CI, a log file) it prints a plain line every few seconds instead.
 */
import cliProgress from 'cli-progress';
import { formatNumber } from '../text/table.js';

export interface ProgressReporter {
  /**
   * `estimates` (per run index: planned steps and estimated seconds) weights each run's steps by its
   * estimated cost, so the bar and its ETA track time rather than steps: a Muon MLP step costs ~20×
   * a MoE step, and the pool starts the longest runs first, which would make a step-count ETA wrong.
   */
  start(totalSteps: number, totalRuns: number, estimates?: readonly { steps: number; seconds: number }[]): void;
  step(runIndex: number, step: number, loss: number): void;
  /** `plannedSteps`: a run that stopped early (diverged) still counts as all its steps done. */
  runDone(runIndex: number, label: string, plannedSteps: number): void;
  /** A line of its own (e.g. "resuming ..."), printed above the bar without breaking it. */
  note(line: string): void;
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

/** Seconds between the plain progress lines on a non-TTY stream. */
export const PLAIN_PROGRESS_EVERY_S = 5;

/**
 * The bar, or on a non-TTY stream a plain line at most every PLAIN_PROGRESS_EVERY_S seconds,
 * written from the updates themselves: cli-progress's own non-TTY output runs on a timer, and a
 * study on one worker trains in this thread without yielding to timers, so it never printed.
 * `now` (ms) is injectable for tests.
 */
export function createProgress(stream: NodeJS.WriteStream = process.stderr, now: () => number = () => performance.now()): ProgressReporter {
  const stepsByRun = new Map<number, number>();
  let totalRuns = 0;
  let runsDone = 0;
  let lastLoss = NaN;
  let lastLabel = '';
  let weights: readonly { steps: number; seconds: number }[] | undefined;
  // Progress in steps, or in estimated seconds when the runs' costs are known.
  const worth = (run: number, steps: number) => {
    const w = weights?.[run];
    return w ? (w.seconds * Math.min(steps, w.steps)) / Math.max(1, w.steps) : steps;
  };
  const done = () => [...stepsByRun.entries()].reduce((a, [run, steps]) => a + worth(run, steps), 0);
  const payload = () => ({ runs: `${runsDone}/${totalRuns} runs`, loss: formatNumber(lastLoss), label: lastLabel });
  let total = 1;
  let startedAt = 0;
  let lastPrinted = -Infinity;
  const plain = !stream.isTTY;
  const printLine = (force: boolean) => {
    const t = now();
    if (!force && t - lastPrinted < PLAIN_PROGRESS_EVERY_S * 1000) return;
    lastPrinted = t;
    const value = Math.min(done(), total);
    const eta = value > 0 ? (((t - startedAt) / 1000) * (total - value)) / value : NaN;
    const p = payload();
    stream.write(`${Math.floor((100 * value) / total)}% | ETA ${formatEta(eta, 5)} | ${p.runs} | loss ${p.loss} ${p.label}`.trimEnd() + '\n');
  };
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: '{bar} {percentage}% | ETA {eta_formatted} | {runs} | loss {loss} {label}',
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 200,
      formatTime: (t: number, _options: unknown, roundTo: number) => formatEta(t, roundTo),
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  const update = () => (plain ? printLine(false) : bar.update(done(), payload()));
  return {
    start(totalSteps, runs, estimates) {
      totalRuns = runs;
      weights = estimates && estimates.length === runs ? estimates : undefined;
      const sum = weights ? weights.reduce((a, w) => a + w.seconds, 0) : totalSteps;
      total = sum > 0 ? sum : 1;
      startedAt = now();
      if (plain) printLine(true);
      else bar.start(total, 0, payload());
    },
    step(runIndex, step, loss) {
      stepsByRun.set(runIndex, step);
      lastLoss = loss;
      update();
    },
    runDone(runIndex, label, plannedSteps) {
      runsDone += 1;
      stepsByRun.set(runIndex, plannedSteps);
      lastLabel = `(last: ${label})`;
      update();
    },
    note(line) {
      // On a terminal the bar owns the current line: clear it, print the note; the bar redraws below.
      stream.write(plain ? `${line}\n` : `\r\x1b[2K${line}\n`);
    },
    stop() {
      if (plain) printLine(true);
      else bar.stop();
    },
  };
}
