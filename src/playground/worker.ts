/// <reference lib="dom" />
/**
 * The playground's training worker: the project's own loop (src/train/loop.ts), models, optimizers,
 * spike detectors and figure specs, run in a Web Worker so the page stays responsive. Runs go one
 * after another (optimizer by optimizer, seed by seed, as `npm run sandbox -- run` lists them);
 * after each step the loop awaits `betweenSteps`, where the worker takes messages and waits while
 * paused, so a paused run continues from exactly where it stopped.
 */
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { initBackend } from '../backend.js';
import { registerGradients } from '../ops.js';
import { provideBrown } from '../data/brown.js';
import { provideMnistDigits } from '../data/mnist.js';
import { expandRuns, type RunConfig } from '../train/config.js';
import { train, type StepRecord } from '../train/loop.js';
import { configHash, summarizeRun, type RunSummary } from '../train/run.js';
import { toJSONLine } from '../train/run_files.js';
import type { LoadedRun } from '../train/run_dirs.js';
import { runFigures } from '../figures/run_figures.js';
import { SPECS, experimentInfos } from './catalog.js';
import { BROWN_ASSET, MNIST_ASSET, unpackBrown, unpackMnist } from './data_pack.js';
import { summaryTable, studyTable } from './summary_table.js';
import { analyzeCells } from '../study/analyze.js';
import { parseBundle } from '../study/bundle.js';
import { collectCells } from '../study/cells.js';
import { studyFigures } from '../figures/study_figures.js';
import type { FromWorker, OpenedRun, PlayRequest, PlaygroundBackend, RunFiles, ToWorker } from './protocol.js';

/** Set by the Vite config at build time (package.json version, git HEAD or null). */
declare const __PLAYGROUND_VERSION__: string | null;
declare const __PLAYGROUND_COMMIT__: string | null;

/** As run_files.ts writes config.json and summary.json: non-finite numbers as null, indent 2. */
const jsonFile = (v: unknown) => `${JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? null : x), 2)}\n`;

interface WorkerScope {
  postMessage(message: FromWorker): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
}
const scope = self as unknown as WorkerScope;
const post = (m: FromWorker) => scope.postMessage(m);

/** Figures and table are rebuilt from all records at most this often while training. */
const UPDATE_MS = 400;

let backendName = '';
let assets = '';
let paused = false;
let stopRequested = false;
let wake: (() => void) | undefined;
let running = false;

async function chooseBackend(requested: PlaygroundBackend): Promise<string> {
  setWasmPaths(`${assets}wasm/`);
  const order = requested === 'auto' ? ['wasm', 'webgl', 'cpu'] : [requested];
  for (const name of order) {
    try {
      if (name === 'wasm' || name === 'cpu') {
        // The CLI's own backend setup; env given so it never reads process.env.
        return (await initBackend({ requested: name, env: {} })).name;
      }
      if ((await tf.setBackend(name)) && tf.getBackend() === name) {
        await tf.ready();
        registerGradients();
        return name;
      }
    } catch {
      // try the next one
    }
  }
  throw new Error(`backend "${requested}" is not available in this browser`);
}

/** Fetch a data file; gunzip unless the server already did (some send .gz with Content-Encoding). */
async function fetchAsset(name: string): Promise<Uint8Array> {
  const res = await fetch(`${assets}data/${name}`);
  if (!res.ok) throw new Error(`could not load ${name} (HTTP ${res.status})`);
  const raw = new Uint8Array(await res.arrayBuffer());
  if (raw[0] !== 0x1f || raw[1] !== 0x8b) return raw;
  const stream = new Blob([raw]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const loaded = new Set<string>();
async function ensureData(kind: string): Promise<void> {
  if (loaded.has(kind)) return;
  if (kind === 'mnist') {
    post({ type: 'status', text: 'loading MNIST (compact bytes)…' });
    provideMnistDigits(unpackMnist(await fetchAsset(MNIST_ASSET)));
  } else if (kind === 'brown') {
    post({ type: 'status', text: 'loading the Brown Corpus (token ids)…' });
    provideBrown(unpackBrown(await fetchAsset(BROWN_ASSET)));
  }
  loaded.add(kind);
}

/** Yield to the event queue without the 4 ms clamp of nested timers. */
function nextTask(): Promise<void> {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      resolve();
    };
    ch.port2.postMessage(null);
  });
}

function provenance(): Record<string, string | null> {
  return {
    package: 'optimizer-sandbox',
    packageVersion: __PLAYGROUND_VERSION__,
    tfjs: tf.version.tfjs,
    node: null,
    browser: navigator.userAgent,
    gitCommit: __PLAYGROUND_COMMIT__,
    gitDirty: null,
  };
}

interface LiveRun {
  readonly config: RunConfig;
  readonly record: Record<string, unknown> & { configHash: string; backend: string };
  readonly metrics: StepRecord[];
  summary: RunSummary | undefined;
  configJson: Record<string, unknown>;
}

async function play(request: PlayRequest): Promise<void> {
  const spec = SPECS.get(request.experiment);
  if (!spec) throw new Error(`unknown experiment "${request.experiment}"`);
  const info = experimentInfos().find((e) => e.name === request.experiment)!;
  // Only changed LRs go in as overrides, as the CLI command shows them: the same lrSource labels.
  const lr: Record<string, number> = {};
  for (const o of request.optimizers) {
    if (info.optimizers.find((c) => c.label === o.label)?.defaultLr !== o.lr) lr[o.label] = o.lr;
  }
  const configs = expandRuns(spec, {
    steps: request.steps,
    seeds: Array.from({ length: request.seeds }, (_, i) => i),
    optimizers: request.optimizers.map((o) => o.label),
    ...(Object.keys(lr).length ? { lr } : {}),
  });
  await ensureData(spec.data.kind);
  const runs: LiveRun[] = configs.map((config) => {
    const record = { ...config, configHash: configHash(config), backend: backendName, provenance: provenance() };
    return { config, record, metrics: [], summary: undefined, configJson: record };
  });
  const stepsTotal = configs.reduce((a, c) => a + c.steps, 0);
  let stepsDone = 0;
  let runsDone = 0;
  let trainingMs = 0;
  let lastUpdate = 0;
  let current = '';
  const update = () => {
    const loadedRuns: LoadedRun[] = runs
      .filter((r) => r.metrics.length > 0)
      .map((r) => ({ dir: '', config: r.config, summary: r.summary, metrics: r.metrics }));
    const rate = stepsDone > 0 ? trainingMs / stepsDone : null;
    post({
      type: 'update',
      progress: { stepsDone, stepsTotal, runsDone, runsTotal: runs.length, current, etaSeconds: rate === null ? null : ((stepsTotal - stepsDone) * rate) / 1000 },
      figures: runFigures(loadedRuns).map((f) => ({ id: f.id, title: f.title, caption: f.caption, spec: f.spec })),
      summary: summaryTable(loadedRuns),
    });
    lastUpdate = performance.now();
  };
  for (const run of runs) {
    if (stopRequested) break;
    current = `${run.config.label} seed ${run.config.seed}`;
    let stepStart = performance.now();
    const outcome = await train(run.config, {
      onRecord: (r) => {
        run.metrics.push(r);
        stepsDone++;
        trainingMs += performance.now() - stepStart;
      },
      betweenSteps: async () => {
        if (performance.now() - lastUpdate > UPDATE_MS) update();
        await nextTask();
        if (paused) {
          // The figures and table of everything so far, then wait.
          update();
          post({ type: 'paused', step: run.metrics.length });
          await new Promise<void>((resolve) => (wake = resolve));
          if (!stopRequested) post({ type: 'resumed' });
        }
        stepStart = performance.now();
      },
      shouldStop: () => stopRequested,
    });
    if (stopRequested) break;
    // A diverged run stops early; its remaining steps count as done for the progress bar.
    stepsDone += run.config.steps - outcome.stepsCompleted;
    run.summary = summarizeRun(run.config, run.record, outcome);
    run.configJson = { ...run.record, routing: outcome.routing, parameters: outcome.parameters };
    runsDone++;
  }
  update();
  const files: RunFiles[] = runs
    .filter((r) => r.metrics.length > 0)
    .map((r) => ({
      name: `${r.config.experiment}__${r.config.label}__s${r.config.seed}`,
      config: jsonFile(r.configJson),
      metrics: r.metrics.map((m) => `${toJSONLine(m)}\n`).join(''),
      summary: r.summary ? jsonFile(r.summary) : null,
    }));
  post({ type: 'finished', files, stopped: stopRequested });
}

/**
 * Opened run folders → the same figures and table as a live run. A folder whose config.json or
 * metrics.jsonl does not parse is named in the error; a damaged summary.json shows it as unfinished,
 * as `npm run view` does.
 */
function view(opened: readonly OpenedRun[]): void {
  const runs: LoadedRun[] = opened.map((o) => {
    let config: RunConfig;
    let metrics: StepRecord[];
    try {
      config = JSON.parse(o.config) as RunConfig;
      if (typeof config?.experiment !== 'string' || typeof config.label !== 'string') throw new Error('not a run config');
    } catch (e) {
      throw new Error(`${o.dir}/config.json is damaged (${(e as Error).message})`);
    }
    try {
      metrics = o.metrics.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as StepRecord);
    } catch (e) {
      throw new Error(`${o.dir}/metrics.jsonl is damaged (${(e as Error).message})`);
    }
    let summary: RunSummary | undefined;
    try {
      summary = o.summary === null ? undefined : (JSON.parse(o.summary) as RunSummary);
    } catch {
      summary = undefined;
    }
    return { dir: o.dir, config, summary, metrics };
  });
  const steps = runs.reduce((a, r) => a + r.metrics.length, 0);
  post({
    type: 'update',
    progress: { stepsDone: steps, stepsTotal: steps, runsDone: runs.length, runsTotal: runs.length, current: 'opened files', etaSeconds: null },
    figures: runFigures(runs).map((f) => ({ id: f.id, title: f.title, caption: f.caption, spec: f.spec })),
    summary: summaryTable(runs),
  });
  post({ type: 'finished', files: [], stopped: false });
}

/**
 * A published results bundle → the study's figures (the report.html specs, from the same analysis
 * `npm run report` runs on it) and a table of its stress cells. A damaged or unknown-version
 * bundle is the one-line error `report` gives.
 */
function openBundle(m: Extract<ToWorker, { type: 'bundle' }>): void {
  const loaded = parseBundle(m.header, () => m.runs, { header: `${m.name}/bundle.json`, runs: `${m.name}/runs.json.gz` });
  const results = analyzeCells(collectCells(loaded));
  post({
    type: 'update',
    progress: { stepsDone: 0, stepsTotal: 0, runsDone: results.runsFound, runsTotal: results.runsFound, current: `results bundle ${results.spec.name}`, etaSeconds: null },
    figures: studyFigures(results).map((f) => ({ id: f.id, title: f.title, caption: f.caption, spec: f.spec })),
    summary: studyTable(results),
  });
  post({ type: 'finished', files: [], stopped: false });
}

scope.onmessage = (event) => {
  const m = event.data;
  const fail = (e: unknown) => post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  switch (m.type) {
    case 'init':
      assets = m.assets;
      chooseBackend(m.backend).then((name) => {
        backendName = name;
        post({ type: 'ready', backend: name, experiments: experimentInfos(), tfjs: tf.version.tfjs });
      }, fail);
      break;
    case 'start':
      if (running) return;
      running = true;
      paused = false;
      stopRequested = false;
      play(m.request)
        .catch(fail)
        .finally(() => (running = false));
      break;
    case 'view':
      try {
        view(m.runs);
      } catch (e) {
        fail(e);
      }
      break;
    case 'bundle':
      try {
        openBundle(m);
      } catch (e) {
        fail(e);
      }
      break;
    case 'pause':
      paused = true;
      break;
    case 'resume':
      paused = false;
      wake?.();
      wake = undefined;
      break;
    case 'reset':
      stopRequested = true;
      paused = false;
      wake?.();
      wake = undefined;
      break;
  }
};
