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
