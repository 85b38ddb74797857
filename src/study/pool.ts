/**
 * Run many training runs: in this process (workers ≤ 1) or in a pool of worker threads, each with
 * its own tfjs instance and the same backend, kept for every batch of runs the pool is given. A run's numbers depend only on its config and the
 * backend, so the pool returns what a serial loop would, in task order, whatever order it ran them in.
 */
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { currentBackend } from '../backend.js';
import type { RunConfig } from '../train/config.js';
import { executeRun, type RunSummary } from '../train/run.js';
import { estimateRunSeconds } from './cost.js';
import { firstLine } from '../errors.js';
import { userModules } from '../variants/modules.js';

export interface RunTask {
  readonly config: RunConfig;
  readonly dir: string;
  /** Steps between checkpoints, or 'auto' (default: about a minute of training); never part of the config hash. */
  readonly checkpointEvery?: number | 'auto';
}

/**
 * `modules`: the user modules (file: URLs) the worker imports before the run, so that optimizer
 * variants registered in the parent by experiment files, --require or optimizers/ exist there too.
 */
export type ToWorker =
  | { type: 'run'; id: number; config: RunConfig; dir: string; modules: readonly string[]; checkpointEvery?: number | 'auto' }
  | { type: 'stop' };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'progress'; id: number; step: number; loss: number }
  | { type: 'resume'; id: number; fromStep: number }
  | { type: 'done'; id: number; summary: RunSummary }
  | { type: 'error'; id: number; message: string; status: 1 | 2 };

export interface PoolEvents {
  onStart?(task: RunTask, index: number): void;
  onProgress?(index: number, step: number, loss: number): void;
  /** A task continues from the checkpoint an interrupted process left, after `fromStep` of its steps. */
  onResume?(task: RunTask, index: number, fromStep: number): void;
  onDone?(summary: RunSummary, index: number): void;
}

export function defaultWorkers(): number {
  return Math.max(1, cpus().length);
}

/** A run that could not finish; `status` is the exit status its cause calls for (see src/errors.ts). */
export class RunFailure extends Error {
  override name = 'RunFailure';
  constructor(
    message: string,
    readonly status: 1 | 2 = 2,
  ) {
    super(message);
  }
}

/** Set by SIGINT handlers: running runs stop after their current step and write no summary. */
export const stopSignal = { requested: false };

async function runSerial(tasks: readonly RunTask[], events: PoolEvents = {}): Promise<RunSummary[]> {
  const out: RunSummary[] = [];
  for (let i = 0; i < tasks.length && !stopSignal.requested; i++) {
    const task = tasks[i]!;
    events.onStart?.(task, i);
    const summary = await executeRun(task.config, task.dir, {
      shouldStop: () => stopSignal.requested,
      ...(task.checkpointEvery !== undefined ? { checkpointEvery: task.checkpointEvery } : {}),
      onRecord: (r) => events.onProgress?.(i, r.step, r.loss),
      onResume: (fromStep) => events.onResume?.(task, i, fromStep),
    });
    out.push(summary);
    events.onDone?.(summary, i);
  }
  return out;
}

const bootUrl = new URL('./worker_boot.mjs', import.meta.url);
const workerEntry = new URL('./worker.ts', import.meta.url).href;

export interface PoolOptions {
  /** Run tasks in worker threads even with one worker (the benchmark does, so 1 and N workers pay the same start-up). */
  readonly inWorkers?: boolean;
  /**
   * Runs every worker does first, all workers together, when the pool starts its workers; their
   * results are discarded. The benchmark uses this to time steady state, past each worker's JIT
   * warm-up, as a study of hundreds of runs sees it. Each worker writes below `dir/worker<i>`.
   */
  readonly warmup?: readonly RunTask[];
}

/**
 * Runs batches of tasks on the same workers: a study's tuning and stress phases share one set of
 * threads, so each worker loads tsx and tfjs, compiles the wasm module and warms up V8's JIT once.
 */
export interface RunPool {
  /** Run tasks; summaries come back in task order. Rejects with RunFailure when a run fails. */
  run(tasks: readonly RunTask[], events?: PoolEvents): Promise<RunSummary[]>;
  /** Stop the worker threads; the pool cannot run afterwards. */
  close(): Promise<void>;
}

/** A pool of `workers` parallel workers (≤ 1: runs in this process, unless `inWorkers`). */
export function openPool(workers: number, options: PoolOptions = {}): RunPool {
  if (workers <= 1 && !options.inWorkers) return { run: runSerial, close: async () => {} };
  return new ThreadPool(Math.max(1, workers), options.warmup ?? []);
}

/**
 * Run tasks once on a fresh pool (a pool of workers only when there is more than one task).
 * Summaries come back in task order.
 */
export async function runTasks(
  tasks: readonly RunTask[],
  workers: number,
  events: PoolEvents = {},
  options: PoolOptions = {},
): Promise<RunSummary[]> {
  const pool = openPool(tasks.length <= 1 && !options.inWorkers ? 1 : workers, options);
  try {
    return await pool.run(tasks, events);
  } finally {
    await pool.close();
  }
}

/**
 * Worker threads, each with its own tfjs instance and the parent's backend. Threads start on the
 * first `run`, as many as it has tasks (up to the pool size); a later, larger batch adds more.
 */
class ThreadPool implements RunPool {
  private readonly threads: Worker[] = [];
  private readonly stopPoll: ReturnType<typeof setInterval>;

  constructor(
    private readonly size: number,
    private readonly warmup: readonly RunTask[],
  ) {
    this.stopPoll = setInterval(() => {
      if (stopSignal.requested) for (const w of this.threads) w.postMessage({ type: 'stop' } satisfies ToWorker);
    }, 100);
    // The poll alone must not keep the process alive.
    this.stopPoll.unref();
  }

  async run(tasks: readonly RunTask[], events: PoolEvents = {}): Promise<RunSummary[]> {
    const results: (RunSummary | undefined)[] = new Array(tasks.length);
    await this.grow(Math.min(this.size, tasks.length));
    // Longest first, so no worker is left finishing a long run alone at the end.
    const cost = tasks.map((t) => estimateRunSeconds(t.config));
    const order = tasks.map((_, i) => i).sort((a, b) => cost[b]! - cost[a]! || a - b);
    let next = 0;
    let failure: Error | undefined;
    const drive = async (worker: Worker) => {
      while (next < order.length && !failure && !stopSignal.requested) {
        const id = order[next++]!;
        events.onStart?.(tasks[id]!, id);
        try {
          const summary = await runOn(worker, id, tasks[id]!, events);
          results[id] = summary;
          events.onDone?.(summary, id);
        } catch (e) {
          failure ??= e as Error;
        }
      }
    };
    await Promise.all(this.threads.slice(0, Math.max(1, Math.min(this.size, tasks.length))).map(drive));
    if (failure) throw failure;
    return results.filter((r): r is RunSummary => r !== undefined);
  }

  async close(): Promise<void> {
    clearInterval(this.stopPoll);
    await Promise.all(this.threads.map((w) => w.terminate()));
    this.threads.length = 0;
  }

  /** Start threads until there are `count`; new ones do the warm-up runs, all together. */
  private async grow(count: number): Promise<void> {
    const backend = currentBackend().name;
    const fresh: Worker[] = [];
    while (this.threads.length < count) {
      const worker = new Worker(bootUrl, { workerData: { entry: workerEntry, backend } });
      // A thread that died (a crash) leaves the pool; the next batch starts a new one.
      worker.once('exit', () => {
        const at = this.threads.indexOf(worker);
        if (at >= 0) this.threads.splice(at, 1);
      });
      this.threads.push(worker);
      fresh.push(worker);
    }
    await Promise.all(fresh.map(started));
    for (const w of this.warmup) {
      await Promise.all(fresh.map((worker, i) => runOn(worker, -1, { ...w, dir: join(w.dir, `worker${i}`) }, {})));
    }
  }
}

function started(worker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(new RunFailure(`a worker failed to start: ${e.message}`));
    worker.once('message', (m: FromWorker) => {
      worker.off('error', onError);
      if (m.type === 'ready') resolve();
      else reject(new RunFailure(`a worker sent ${m.type} before ready`));
    });
    worker.once('error', onError);
  });
}

/** One run on one worker; a warm-up run (`id` < 0) reports no progress. */
function runOn(worker: Worker, id: number, task: RunTask, events: PoolEvents): Promise<RunSummary> {
  return new Promise((resolve, reject) => {
    const finish = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (m: FromWorker) => {
      if (m.type === 'progress' && id >= 0) events.onProgress?.(m.id, m.step, m.loss);
      else if (m.type === 'resume' && id >= 0) events.onResume?.(task, m.id, m.fromStep);
      else if (m.type === 'done') {
        finish();
        resolve(m.summary);
      } else if (m.type === 'error') {
        finish();
        reject(new RunFailure(`run ${task.dir} failed: ${m.message}`, m.status));
      }
    };
    const onError = (e: Error) => {
      finish();
      reject(new RunFailure(`a worker crashed: ${firstLine(e.message)}`, 1));
    };
    const onExit = (code: number) => {
      finish();
      reject(new RunFailure(`a worker exited (code ${code}) during run ${task.dir}`, 1));
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.once('exit', onExit);
    // Read at each run, not at worker start: a module loaded after the pool started still reaches it.
    const modules = userModules();
    worker.postMessage({
      type: 'run',
      id,
      config: task.config,
      dir: task.dir,
      modules,
      ...(task.checkpointEvery !== undefined ? { checkpointEvery: task.checkpointEvery } : {}),
    } satisfies ToWorker);
  });
}
