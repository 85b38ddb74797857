/**
 * A pool worker: its own tfjs instance and backend; runs one RunConfig at a time and reports
 * progress and the summary back to the parent.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../backend.js';
import { fileURLToPath } from 'node:url';
import { executeRun } from '../train/run.js';
import { listOptimizers } from '../optimizers/index.js';
import { firstLineWithHint, ModuleLoadError } from '../variants/modules.js';
import type { ToWorker, FromWorker } from './pool.js';
import { describeFsError, EnvironmentError, firstLine, OutputPathError } from '../errors.js';

const port = parentPort!;
const PROGRESS_INTERVAL_MS = 200;
let stopRequested = false;
const imported = new Set<string>();

/**
 * Import the parent's user modules (once each) so that their optimizer variants are registered in
 * this thread's registry too, then check that the run's optimizer exists here.
 */
async function importUserModules(modules: readonly string[], optimizer: string): Promise<void> {
  for (const url of modules) {
    if (imported.has(url)) continue;
    try {
      await import(url);
    } catch (e) {
      throw new ModuleLoadError(`a worker could not import ${url}: ${firstLineWithHint(e, fileURLToPath(url))}`);
    }
    imported.add(url);
  }
  if (!listOptimizers().some((o) => o.name === optimizer)) {
    throw new ModuleLoadError(
      `optimizer "${optimizer}" is not registered in the worker thread: define it in a file the experiment imports, ` +
        'in optimizers/, or load it with --require FILE',
    );
  }
}
const backendName = (workerData as { backend: string }).backend;

/** The one line and exit status the parent reports for a failed run. */
function workerError(e: unknown): { message: string; status: 1 | 2 } {
  const fsFault = describeFsError(e);
  if (fsFault) return { message: fsFault.line, status: fsFault.status };
  if (e instanceof EnvironmentError) return { message: firstLine(e.message), status: 1 };
  if (e instanceof OutputPathError || e instanceof ModuleLoadError) return { message: firstLine(e.message), status: 2 };
  // Anything else is a bug: keep the message's first line here, the stack on stderr for a report.
  console.error((e as Error)?.stack ?? String(e));
  return { message: firstLine((e as Error)?.message ?? String(e)), status: 1 };
}

function send(message: FromWorker): void {
  port.postMessage(message);
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'stop') {
    stopRequested = true;
    return;
  }
  void (async () => {
    try {
      await initBackend({ requested: backendName });
      await importUserModules(message.modules, message.config.optimizer.name);
      // Progress at most every PROGRESS_INTERVAL_MS: a message per step would wake the parent
      // hundreds of times a second and steal CPU from the workers.
      let lastSent = 0;
      const summary = await executeRun(message.config, message.dir, {
        shouldStop: () => stopRequested,
        ...(message.checkpointEvery !== undefined ? { checkpointEvery: message.checkpointEvery } : {}),
        onResume: (fromStep) => send({ type: 'resume', id: message.id, fromStep }),
        onRecord: (r) => {
          const now = performance.now();
          if (now - lastSent < PROGRESS_INTERVAL_MS && r.step < message.config.steps) return;
          lastSent = now;
          send({ type: 'progress', id: message.id, step: r.step, loss: r.loss });
        },
      });
      send({ type: 'done', id: message.id, summary });
    } catch (e) {
      send({ type: 'error', id: message.id, ...workerError(e) });
    }
  })();
});
send({ type: 'ready' });
