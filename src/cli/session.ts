/**
 * What the commands share while they run: exit statuses, Ctrl-C and SIGTERM, the progress events of a batch
 * of runs (with a line for each run resumed from a checkpoint), and figure warnings.
 */
import { basename } from 'node:path';
import type { Command } from 'commander';
import type { WrittenFigure } from '../figures/output.js';
import { stopSignal, type PoolEvents } from '../study/pool.js';
import type { RunSummary } from '../train/run.js';
import { count } from '../text/plural.js';
import type { ProgressReporter } from './progress.js';

/**
 * How a command that returns ends: 0 done, 1 a check it ran failed, 130 interrupted by Ctrl-C or
 * SIGTERM (a rerun resumes; the Slurm tasks use the same status). Errors are thrown instead, typed (src/errors.ts), and main maps them to 1 or 2.
 */
export type ExitStatus = 0 | 1 | 130;
export const INTERRUPTED: ExitStatus = 130;

/** A command file registers its command; its action hands its status to `exit`. */
export type RegisterCommand = (program: Command, exit: (status: ExitStatus) => void) => void;

/**
 * Run `work` with Ctrl-C (SIGINT) or SIGTERM (`kill`, `timeout`, a service manager, the end of a
 * sitting) asking runs to stop after their current step, so that they keep a checkpoint; a second
 * signal quits at once.
 */
export function withGracefulStop<T>(work: () => Promise<T>): Promise<T> {
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopSignal.requested) process.exit(INTERRUPTED);
    stopSignal.requested = true;
    const again = signal === 'SIGINT' ? 'Ctrl-C' : signal;
    console.error(`\n${signal === 'SIGINT' ? '' : `${signal}: `}stopping after the current step (${again} again to quit now); finished runs are kept`);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  for (const s of signals) process.on(s, onSignal);
  return work().finally(() => {
    for (const s of signals) process.off(s, onSignal);
  });
}

/** The line for a run that continues from a checkpoint: which run, from which step, what remains. */
function resumeLine(runDir: string, fromStep: number, plannedSteps: number): string {
  return `resuming ${basename(runDir)} from step ${fromStep} of ${plannedSteps} (${count(plannedSteps - fromStep, 'step')} to go)`;
}

/**
 * Pool events that drive a progress reporter (read through `progress()`, since a study starts a
 * new one per phase) and print one line per resumed run. `label` names a finished run in the bar.
 */
export function progressEvents(progress: () => ProgressReporter, label: (s: RunSummary) => string): PoolEvents {
  return {
    onProgress: (i, step, loss) => progress().step(i, step, loss),
    onResume: (task, _i, fromStep) => progress().note(resumeLine(task.dir, fromStep, task.config.steps)),
    onDone: (s, i) => progress().runDone(i, label(s), s.plannedSteps),
  };
}

/** A figure that renders with warnings is still written; the warnings go to stderr. */
export function reportWarnings(written: readonly WrittenFigure[]): void {
  for (const w of written) for (const msg of w.warnings) console.error(`figure ${w.figure.id}: ${msg}`);
}
