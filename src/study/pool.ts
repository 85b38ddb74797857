/**
 * Run many training runs: in this process (workers ≤ 1) or in a pool of worker threads, each with
 * its own tfjs instance and the same backend. A run's numbers depend only on its config and the
 * backend, so the pool returns what a serial loop would, in task order, whatever order it ran them in.
 */
import { Worker } from 'node:worker_threads';
import { cpus } from 'node:os';
import { currentBackend } from '../backend.js';
import type { RunConfig } from '../train/config.js';
import { executeRun, type RunSummary } from '../train/run.js';
import { estimateRunSeconds } from './cost.js';

export interface RunTask {
  readonly config: RunConfig;
  readonly dir: string;
}

export type ToWorker = { type: 'run'; id: number; config: RunConfig; dir: string } | { type: 'stop' };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'progress'; id: number; step: number; loss: number }
  | { type: 'done'; id: number; summary: RunSummary }
  | { type: 'error'; id: number; message: string };

export interface PoolEvents {
  onStart?(task: RunTask, index: number): void;
  onProgress?(index: number, step: number, loss: number): void;
  onDone?(summary: RunSummary, index: number): void;
}

export function defaultWorkers(): number {
  return Math.max(1, cpus().length);
}

export class RunFailure extends Error {
  override name = 'RunFailure';
}

/** Set by SIGINT handlers: running runs stop after their current step and write no summary. */
export const stopSignal = { requested: false };

async function runSerial(tasks: readonly RunTask[], events: PoolEvents): Promise<RunSummary[]> {
  const out: RunSummary[] = [];
  for (let i = 0; i < tasks.length && !stopSignal.requested; i++) {
    const task = tasks[i]!;
    events.onStart?.(task, i);
    const summary = await executeRun(task.config, task.dir, {
      shouldStop: () => stopSignal.requested,
      onRecord: (r) => events.onProgress?.(i, r.step, r.loss),
    });
    out.push(summary);
    events.onDone?.(summary, i);
  }
  return out;
}

const bootUrl = new URL('./worker_boot.mjs', import.meta.url);
const workerEntry = new URL('./worker.ts', import.meta.url).href;

async function runParallel(tasks: readonly RunTask[], workers: number, events: PoolEvents): Promise<RunSummary[]> {
  const results: (RunSummary | undefined)[] = new Array(tasks.length);
  const backend = currentBackend().name;
  // Longest first, so no worker is left finishing a long run alone at the end.
  const cost = tasks.map((t) => estimateRunSeconds(t.config));
  const order = tasks.map((_, i) => i).sort((a, b) => cost[b]! - cost[a]! || a - b);
  let next = 0;
  let failure: Error | undefined;
  const pool: Worker[] = [];
  const stopPoll = setInterval(() => {
    if (stopSignal.requested) for (const w of pool) w.postMessage({ type: 'stop' } satisfies ToWorker);
  }, 100);

  const drive = (worker: Worker) =>
    new Promise<void>((resolve) => {
      const dispatch = () => {
        if (next >= order.length || failure || stopSignal.requested) {
          resolve();
          return;
        }
        const id = order[next++]!;
        events.onStart?.(tasks[id]!, id);
        worker.postMessage({ type: 'run', id, config: tasks[id]!.config, dir: tasks[id]!.dir } satisfies ToWorker);
      };
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') dispatch();
        else if (m.type === 'progress') events.onProgress?.(m.id, m.step, m.loss);
        else if (m.type === 'done') {
          results[m.id] = m.summary;
          events.onDone?.(m.summary, m.id);
          dispatch();
        } else if (m.type === 'error') {
          failure ??= new RunFailure(`run ${tasks[m.id]!.dir} failed: ${m.message}`);
          resolve();
        }
      });
      worker.on('error', (e) => {
        failure ??= new RunFailure(`a worker crashed: ${e.message}`);
        resolve();
      });
    });

  try {
    const count = Math.min(workers, tasks.length);
    for (let i = 0; i < count; i++) {
      pool.push(new Worker(bootUrl, { workerData: { entry: workerEntry, backend } }));
    }
    await Promise.all(pool.map(drive));
  } finally {
    clearInterval(stopPoll);
    await Promise.all(pool.map((w) => w.terminate()));
  }
  if (failure) throw failure;
  return results.filter((r): r is RunSummary => r !== undefined);
}

/**
 * Run tasks with `workers` parallel workers (≤ 1: in this process, unless `inWorkers`, which the
 * benchmark uses so that 1 and N workers pay the same start-up). Summaries come back in task order.
 */
export function runTasks(
  tasks: readonly RunTask[],
  workers: number,
  events: PoolEvents = {},
  options: { inWorkers?: boolean } = {},
): Promise<RunSummary[]> {
  const serial = !options.inWorkers && (workers <= 1 || tasks.length <= 1);
  return serial ? runSerial(tasks, events) : runParallel(tasks, Math.max(1, workers), events);
}
