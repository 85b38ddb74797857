/// <reference lib="dom" />
/**
 * The playground page: controls, progress, live figures, the summary table, downloads and the
 * equivalent CLI command. UI only: all training, figure specs and run files come from the worker
 * (src/playground/worker.ts), which runs the project's own modules. The page bundle holds Vega and
 * Vega-Lite for drawing, and no tfjs.
 */
import type { View } from 'vega';
import type { TopLevelSpec } from 'vega-lite';
import { columnWidth, drawChart, el, markOverflow, summaryNodes } from './page_views.js';
import { bundleFromFolder, bundleFromUrl, type OpenedBundle } from './open_bundle.js';
import { type OpenedRun, LR_MULTIPLIERS, MAX_SEEDS, MAX_STEPS, PLAYGROUND_BACKENDS, cliCommand, type ExperimentInfo, type FromWorker, type PlayRequest, type PlaygroundBackend, type RunFiles, type ToWorker } from './protocol.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('controls');
const media = window.matchMedia('(prefers-color-scheme: dark)');
type State = 'loading' | 'ready' | 'running' | 'paused' | 'finished' | 'error';

let worker: Worker | undefined;
let experiments: readonly ExperimentInfo[] = [];
let backendInUse = '';
let state: State = 'loading';
let lastFigures: Extract<FromWorker, { type: 'update' }>['figures'] = [];
let views: View[] = [];
const urls: string[] = [];

function setState(s: State): void {
  state = s;
  document.body.dataset['state'] = s;
  const busy = s === 'running' || s === 'paused';
  for (const c of form.querySelectorAll<HTMLInputElement | HTMLSelectElement>('input, select')) c.disabled = busy || s === 'loading';
  // The buttons exist once the worker has sent the catalog and the form is built.
  const button = (id: string, disabled: boolean) => {
    const b = document.getElementById(id) as HTMLButtonElement | null;
    if (b) b.disabled = disabled;
  };
  button('run', busy || s === 'loading');
  button('pause', s !== 'running');
  button('resume', s !== 'paused');
  button('reset', s === 'loading');
}

function startWorker(backend: PlaygroundBackend): void {
  worker?.terminate();
  $('backend-line').textContent = 'starting the training worker…';
  worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  worker.onmessage = (e: MessageEvent<FromWorker>) => onMessage(e.data);
  worker.onerror = (e) => showError(`the training worker failed: ${e.message}`);
  send({ type: 'init', backend, assets: new URL('./', location.href).href });
}

const send = (m: ToWorker) => worker?.postMessage(m);

function showError(message: string): void {
  $('progress-text').textContent = `Error: ${message}`;
  setState('error');
}

function onMessage(m: FromWorker): void {
  switch (m.type) {
    case 'ready': {
      const first = experiments.length === 0;
      experiments = m.experiments;
      backendInUse = m.backend;
      $('backend-line').textContent = `Backend in use: ${m.backend} (tfjs ${m.tfjs}): ${BACKEND_NOTES[m.backend] ?? BACKEND_NOTES['webgl']}`;
      if (first) buildForm();
      setState('ready');
      updateCommand();
      const bundle = first ? new URLSearchParams(location.search).get('bundle') : null;
      if (bundle) void showBundle(bundleFromUrl(bundle));
      break;
    }
    case 'status':
      $('progress-text').textContent = m.text;
      break;
    case 'update': {
      const p = m.progress;
      const bar = $<HTMLProgressElement>('progress');
      bar.max = p.stepsTotal;
      bar.value = p.stepsDone;
      const eta = p.etaSeconds === null ? '' : ` · ETA ${formatSeconds(p.etaSeconds)}`;
      $('progress-text').textContent = `step ${p.stepsDone} of ${p.stepsTotal} · run ${Math.min(p.runsDone + 1, p.runsTotal)} of ${p.runsTotal} (${p.current})${eta}`;
      document.body.dataset['steps'] = String(p.stepsDone);
      renderSummary(m.summary);
      lastFigures = m.figures;
      scheduleFigures();
      break;
    }
    case 'paused':
      setState('paused');
      $('progress-text').textContent += ' · paused';
      break;
    case 'resumed':
      setState('running');
      break;
    case 'finished':
      if (m.stopped) {
        clearResults();
        setState('ready');
        break;
      }
      renderDownloads(m.files);
      $('progress-text').textContent = ($('progress-text').textContent ?? '').replace(/ · ETA.*$/, '') + ' · done';
      // 'finished' once the final figures are drawn.
      void drawNow().then(() => setState('finished'));
      break;
    case 'error':
      showError(m.message);
      break;
  }
}

/** What each backend means for reproducing a run with the CLI. */
const BACKEND_NOTES: Record<string, string> = {
  wasm: 'same numbers as the CLI, bit for bit',
  cpu: 'the command below uses the CLI\'s cpu backend too; only wasm is checked bit for bit',
  webgl: 'numbers differ slightly from the CLI (another order of float operations); wasm matches it',
};

const formatSeconds = (s: number) => (s < 90 ? `${Math.ceil(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);

function field(id: string, label: string, control: HTMLElement, hint = ''): HTMLElement {
  control.id = id;
  control.setAttribute('aria-describedby', `${id}-error`);
  return el('div', { className: 'field' }, [el('label', { htmlFor: id }, [label]), control, el('span', { className: 'error', id: `${id}-error`, role: 'alert' }, [hint])]);
}

const current = () => experiments.find((e) => e.name === $<HTMLSelectElement>('experiment').value)!;

function buildForm(): void {
  const exp = el('select', {}, experiments.map((e) => el('option', { value: e.name }, [e.name])));
  const backend = el('select', {}, PLAYGROUND_BACKENDS.map((b) => el('option', { value: b }, [b === 'auto' ? 'auto (wasm first)' : b])));
  const steps = el('input', { type: 'number', min: '1', max: String(MAX_STEPS), step: '1' });
  const seeds = el('input', { type: 'number', min: '1', max: String(MAX_SEEDS), step: '1', value: '1' });
  const optimizers = el('fieldset', { id: 'optimizers' }, [el('legend', {}, ['Optimizers and learning rates'])]);
  form.append(
    field('experiment', 'Experiment', exp),
    optimizers,
    field('seeds', `Seeds (1–${MAX_SEEDS})`, seeds),
    field('steps', 'Steps', steps),
    field('backend', 'Backend', backend),
    el('div', { className: 'buttons' }, [
      el('button', { type: 'submit', id: 'run', className: 'primary' }, ['Run']),
      el('button', { type: 'button', id: 'pause' }, ['Pause']),
      el('button', { type: 'button', id: 'resume' }, ['Resume']),
      el('button', { type: 'button', id: 'reset' }, ['Reset']),
    ]),
  );
  exp.addEventListener('change', fillExperiment);
  backend.addEventListener('change', () => startWorker(backend.value as PlaygroundBackend));
  form.addEventListener('input', () => {
    clearErrors();
    updateCommand();
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const request = readRequest(true);
    if (!request) return;
    clearResults();
    setState('running');
    send({ type: 'start', request });
  });
  $('pause').addEventListener('click', () => send({ type: 'pause' }));
  $('resume').addEventListener('click', () => send({ type: 'resume' }));
  $('reset').addEventListener('click', () => {
    if (state === 'running' || state === 'paused') send({ type: 'reset' });
    else {
      clearResults();
      fillExperiment();
      setState('ready');
    }
  });
  $('open-runs').addEventListener('change', () => void openRuns());
  $('open-bundle').addEventListener('change', () => void openBundle());
  $('copy-cli').addEventListener('click', () => void navigator.clipboard?.writeText($('cli-command').textContent ?? ''));
  fillExperiment();
}

/** Group the picked files by folder; each folder with config.json and metrics.jsonl is a run. */
async function openRuns(): Promise<void> {
  const input = $<HTMLInputElement>('open-runs');
  const byDir = new Map<string, Map<string, File>>();
  for (const f of input.files ?? []) {
    const path = f.webkitRelativePath || f.name;
    const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '.';
    if (!byDir.has(dir)) byDir.set(dir, new Map());
    byDir.get(dir)!.set(f.name, f);
  }
  const runs: OpenedRun[] = [];
  for (const [dir, files] of [...byDir].sort(([a], [b]) => a.localeCompare(b))) {
    const config = files.get('config.json');
    const metrics = files.get('metrics.jsonl');
    if (!config || !metrics) continue;
    const summary = files.get('summary.json');
    runs.push({ dir, config: await config.text(), metrics: await metrics.text(), summary: summary ? await summary.text() : null });
  }
  input.value = '';
  if (runs.length === 0) {
    $('open-runs-error').textContent = 'No run folders there (a run folder holds config.json and metrics.jsonl)';
    return;
  }
  $('open-runs-error').textContent = '';
  clearResults();
  setState('running');
  send({ type: 'view', runs });
}

/** Show a bundle the visitor opened (or the line saying why it cannot be opened). */
async function showBundle(opening: Promise<OpenedBundle | string>): Promise<void> {
  const opened = await opening;
  if (typeof opened === 'string') {
    $('open-bundle-error').textContent = opened;
    return;
  }
  $('open-bundle-error').textContent = '';
  clearResults();
  setState('running');
  send({ type: 'bundle', ...opened });
}

async function openBundle(): Promise<void> {
  const input = $<HTMLInputElement>('open-bundle');
  const picked = [...(input.files ?? [])];
  input.value = '';
  await showBundle(bundleFromFolder(picked));
}

function fillExperiment(): void {
  const info = current();
  $<HTMLInputElement>('steps').value = String(info.defaultSteps);
  const box = $('optimizers');
  box.querySelectorAll('.opt').forEach((n) => n.remove());
  for (const o of info.optimizers) {
    const id = `opt-${o.label}`;
    const check = el('input', { type: 'checkbox', id, checked: o.inSpec });
    check.dataset['label'] = o.label;
    const lr = el('input', { type: 'text', className: 'lr', id: `${id}-lr`, value: String(o.defaultLr), inputMode: 'decimal' });
    lr.setAttribute('aria-label', `Learning rate for ${o.label}`);
    lr.setAttribute('aria-describedby', `${id}-error`);
    const mult = el('select', { id: `${id}-mult` }, LR_MULTIPLIERS.map((x) => el('option', { value: String(x) }, [`×${x}`])));
    mult.setAttribute('aria-label', `Learning-rate multiplier for ${o.label}`);
    box.append(
      el('div', { className: 'opt' }, [
        el('label', { htmlFor: id }, [check, ` ${o.label}`]),
        lr,
        mult,
        el('span', { className: 'src' }, [o.name === o.label ? o.lrSource : `${o.name}; ${o.lrSource}`, el('span', { className: 'error', id: `${id}-error`, role: 'alert' })]),
      ]),
    );
  }
  box.append(el('span', { className: 'error opt', id: 'optimizers-error', role: 'alert' }));
  updateCommand();
}

function clearErrors(): void {
  form.querySelectorAll('.error').forEach((e) => (e.textContent = ''));
}

/** The request, or undefined with a message next to each bad field (shown only when `report`). */
function readRequest(report: boolean): PlayRequest | undefined {
  let ok = true;
  const bad = (id: string, message: string) => {
    ok = false;
    if (report) $(`${id}-error`).textContent = message;
  };
  const int = (id: string, lo: number, hi: number, what: string) => {
    const raw = $<HTMLInputElement>(id).value.trim();
    const v = Number(raw);
    if (raw === '' || !Number.isInteger(v) || v < lo || v > hi) bad(id, `${what} must be a whole number from ${lo} to ${hi}`);
    return v;
  };
  const steps = int('steps', 1, MAX_STEPS, 'Steps');
  const seeds = int('seeds', 1, MAX_SEEDS, 'Seeds');
  const optimizers: { label: string; lr: number }[] = [];
  for (const check of $('optimizers').querySelectorAll<HTMLInputElement>('input[type=checkbox]')) {
    if (!check.checked) continue;
    const label = check.dataset['label']!;
    const raw = $<HTMLInputElement>(`${check.id}-lr`).value.trim();
    const base = Number(raw);
    if (raw === '' || !Number.isFinite(base) || base <= 0) {
      bad(check.id, `"${raw}" is not a learning rate (a number > 0)`);
      continue;
    }
    optimizers.push({ label, lr: base * Number($<HTMLSelectElement>(`${check.id}-mult`).value) });
  }
  if (optimizers.length === 0 && ok) bad('optimizers', 'Pick at least one optimizer');
  return ok ? { experiment: current().name, steps, seeds, optimizers } : undefined;
}

function updateCommand(): void {
  if (experiments.length === 0) return;
  const request = readRequest(false);
  $('cli-command').textContent = request ? cliCommand(request, current(), backendInUse) : '(fix the settings above)';
}

function clearResults(): void {
  clearTimeout(timer);
  timer = undefined;
  for (const v of views) v.finalize();
  views = [];
  lastFigures = [];
  $('figures').replaceChildren();
  $('summary').replaceChildren();
  $('downloads').replaceChildren();
  urls.splice(0).forEach((u) => URL.revokeObjectURL(u));
  $<HTMLProgressElement>('progress').value = 0;
  $('progress-text').textContent = '';
  delete document.body.dataset['steps'];
}

function renderSummary(s: Extract<FromWorker, { type: 'update' }>['summary']): void {
  $('summary').replaceChildren(...summaryNodes(s));
  markOverflow();
}

/** Live figures are redrawn at most this often: drawing is the page's main cost while training runs. */
const REDRAW_MS = 1000;
let drawing: Promise<void> = Promise.resolve();
let timer: ReturnType<typeof setTimeout> | undefined;
let lastDraw = 0;

/** Draw the latest figures soon (at most once per REDRAW_MS). */
function scheduleFigures(): void {
  if (timer !== undefined) return;
  timer = setTimeout(() => {
    timer = undefined;
    void drawNow();
  }, Math.max(0, lastDraw + REDRAW_MS - performance.now()));
}

/** Draw the latest figures once the draw in progress is done. */
function drawNow(): Promise<void> {
  drawing = drawing.then(drawFigures, drawFigures);
  return drawing;
}

let drawnWidth = 0;

async function drawFigures(): Promise<void> {
  const theme = media.matches ? 'dark' : 'light';
  const width = columnWidth($('figures'));
  const next: View[] = [];
  const nodes: HTMLElement[] = [];
  for (const f of lastFigures) {
    const chart = el('div', { className: 'chart' });
    const fig = el('figure', {}, [chart, el('figcaption', {}, [el('b', {}, [`${f.title}. `]), f.caption])]);
    fig.dataset['figure'] = f.id;
    next.push(await drawChart(f.spec as TopLevelSpec, chart, width, theme));
    nodes.push(fig);
    // A real task boundary per figure, so input and painting are never starved while runs go on.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  for (const v of views) v.finalize();
  views = next;
  $('figures').replaceChildren(...nodes);
  drawnWidth = width;
  lastDraw = performance.now();
}
media.addEventListener('change', () => void drawNow());
// Laid out for the column's width, so drawn again when the window changes it (once it settles).
let resizing: ReturnType<typeof setTimeout> | undefined;
window.addEventListener('resize', () => {
  clearTimeout(resizing);
  resizing = setTimeout(() => {
    markOverflow();
    if (lastFigures.length > 0 && columnWidth($('figures')) !== drawnWidth) void drawNow();
  }, 200);
});

function renderDownloads(files: readonly RunFiles[]): void {
  const link = (name: string, text: string, type: string) => {
    const url = URL.createObjectURL(new Blob([text], { type }));
    urls.push(url);
    return el('a', { href: url, download: name }, [name]);
  };
  const items = files.map((f) =>
    el('li', {}, [
      el('span', {}, [`${f.name}: `]),
      link('config.json', f.config, 'application/json'),
      link('metrics.jsonl', f.metrics, 'application/x-ndjson'),
      ...(f.summary ? [link('summary.json', f.summary, 'application/json')] : []),
    ]),
  );
  $('downloads').replaceChildren(
    el('p', { className: 'muted' }, ['Save each run\'s three files into a folder named after it; ', el('code', {}, ['npm run view -- <folder>']), ' reads them.']),
    el('ul', {}, items),
  );
}

setState('loading');
startWorker('auto');
