/**
 * `npm run test:browser`: the playground in headless Chromium. The site is built from the working
 * tree (`npm run playground:build`'s code) and served by Vite's preview server on localhost; any
 * other request is refused. Checks: the page loads with no console error; every control is
 * labelled and reachable by keyboard; bad input shows a message next to its field and starts
 * nothing; a 30-step mnist-mlp run with AdamW and Muon on wasm, paused and resumed half-way, has the
 * same per-step metrics as the CLI command the page shows, run here in Node — bit for bit; the
 * downloaded run files parse and carry the CLI's config hash; the CLI's run folders open in the
 * page; reset stops a run and clears the page; every chart fits its column (none cropped, also after
 * a window resize), its step axis reaches the last step, and the summary table stays inside the
 * content width (scrolling in its own box when wider). Screenshots (light and dark, during
 * and after a run) go to test-output/browser/ (git-ignored).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { PreviewServer } from 'vite';
import { preview } from 'vite';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { studyFigures } from '../../src/figures/study_figures.js';
import { analyzeStudy } from '../../src/study/analyze.js';
import { buildSite } from '../../src/playground/build.js';
import type { StepRecord } from '../../src/train/loop.js';
import type { RunSummary } from '../../src/train/run.js';
import { ensureDir } from '../../src/train/run_files.js';
import { writeStudyFixture } from '../figures/study_fixture.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = resolve('test-output', 'browser');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const STEPS = 30;

let server: PreviewServer;
let url: string;
let browser: Browser;
let root: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  root = mkdtempSync(join(tmpdir(), 'opt-sandbox-playground-'));
  vi.spyOn(console, 'log').mockImplementation(() => {});
  await buildSite();
  vi.restoreAllMocks();
  server = await preview({ configFile: resolve('playground', 'vite.config.ts'), preview: { port: 4300, strictPort: false }, logLevel: 'silent' });
  url = server.resolvedUrls!.local[0]!;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  ensureDir(SHOTS);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

interface Opened {
  readonly page: Page;
  readonly problems: string[];
}

/** A fresh context; requests that leave the preview server are refused and recorded. */
async function open(colorScheme: 'light' | 'dark'): Promise<Opened> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme, acceptDownloads: true });
  const problems: string[] = [];
  const origin = new URL(url).origin;
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(origin) || u.startsWith('blob:') || u.startsWith('data:')) return route.continue();
    problems.push(`network request: ${u}`);
    return route.abort();
  });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(url);
  await page.waitForSelector('body[data-state=ready], body[data-state=error]', { timeout: 120_000 });
  return { page, problems };
}

/**
 * Forget the page's state before an action, so that waiting for a state sees the one the action
 * leads to, not the one a previous test left (an opened folder is read before the page says 'running').
 */
const forgetState = (page: Page) => page.evaluate(() => void delete document.body.dataset['state']);

/** Only these optimizers ticked, with their default LRs. */
async function choose(page: Page, experiment: string, optimizers: readonly string[], steps: number, seeds: number): Promise<void> {
  await page.selectOption('#experiment', experiment);
  for (const box of await page.locator('#optimizers input[type=checkbox]').all()) {
    await box.setChecked(optimizers.includes((await box.getAttribute('data-label'))!));
  }
  await page.fill('#steps', String(steps));
  await page.fill('#seeds', String(seeds));
}

const stepsShown = async (page: Page) => Number((await page.getAttribute('body', 'data-steps')) ?? '0');

/** The fields of a metrics line that are numbers of the run (the step's wall time is not). */
const numbers = ({ ms: _ms, ...rest }: StepRecord) => rest;

/**
 * config.json without what legitimately differs: provenance (Node vs browser), and the running
 * number tfjs puts in variable names (mlp1/…, mlp2/…), which counts models built in one process:
 * the CLI builds each run in a fresh worker thread, the page builds them one after another.
 */
function comparable(config: Record<string, unknown>): Record<string, unknown> {
  const { provenance: _p, routing, ...rest } = config;
  const names = Object.entries(routing as Record<string, string>).map(([k, v]) => [k.replace(/^([a-z]+)\d+\//, '$1/'), v]);
  return { ...rest, routing: Object.fromEntries(names) };
}

/**
 * What sticks out of the page's column: a chart drawn wider than its box (the browser crops it),
 * a figure past the figure grid, the summary table past the content width outside its scroll box,
 * or anything that widens the page itself. An empty list when all fits.
 */
function layoutProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    const right = (e: Element) => e.getBoundingClientRect().right;
    const grid = document.getElementById('figures')!;
    for (const fig of document.querySelectorAll<HTMLElement>('#figures figure')) {
      const chart = fig.querySelector<HTMLElement>('.chart')!;
      const svg = chart.querySelector('svg');
      if (!svg) out.push(`${fig.dataset['figure']}: no svg`);
      else if (svg.getBoundingClientRect().width > chart.clientWidth + 0.5) out.push(`${fig.dataset['figure']}: svg ${svg.getBoundingClientRect().width} px in a ${chart.clientWidth} px box`);
      if (right(fig) > right(grid) + 0.5) out.push(`${fig.dataset['figure']}: past the figure grid`);
    }
    const main = document.querySelector('main')!;
    const box = document.querySelector<HTMLElement>('#summary .table-scroll');
    const table = document.querySelector('#summary table');
    if (table && !box) out.push('summary table without its scroll box');
    if (box && right(box) > right(main) + 0.5) out.push(`summary box ends at ${right(box)}, the column at ${right(main)}`);
    if (box && table && right(table) > right(box) + 0.5 && getComputedStyle(box).overflowX !== 'auto') out.push('summary table overflows a box that does not scroll');
    if (document.documentElement.scrollWidth > window.innerWidth) out.push(`page ${document.documentElement.scrollWidth} px wide in a ${window.innerWidth} px window`);
    return out;
  });
}

/** Each panel's x domain in a figure, as Vega describes its axis ("… with values from 0 to 30"), and its tick labels. */
function xAxes(page: Page, figure: string): Promise<{ from: number; to: number; ticks: string[] }[]> {
  return page.$$eval(`#figures figure[data-figure="${figure}"] g[aria-label^="X-axis"]`, (axes) =>
    axes.map((a) => {
      // Vega writes negative numbers with a minus sign (U+2212).
      const m = /values from (\S+) to (\S+)$/.exec((a.getAttribute('aria-label') ?? '').replace(/\u2212/g, '-'));
      return { from: Number(m?.[1]), to: Number(m?.[2]), ticks: [...a.querySelectorAll('.role-axis-label text')].map((t) => t.textContent ?? '') };
    }),
  );
}

describe('playground', () => {
  let light: Opened;
  beforeAll(async () => {
    light = await open('light');
  }, 180_000);

  it('loads with the wasm backend and no console error', async () => {
    expect(await light.page.getAttribute('body', 'data-state')).toBe('ready');
    expect(await light.page.textContent('#backend-line')).toContain('Backend in use: wasm');
    expect(light.problems).toEqual([]);
  });

  it('labels every control and reaches each one with the Tab key', async () => {
    const controls = await light.page.$$eval('#controls input, #controls select, #controls button, #open-runs, #copy-cli', (els) =>
      els.map((e) => {
        const c = e as HTMLInputElement;
        const name = (c.labels && c.labels.length > 0 ? c.labels[0]!.textContent : null) || c.getAttribute('aria-label') || (c.tagName === 'BUTTON' ? c.textContent : '');
        return { id: c.id, name: (name ?? '').trim(), disabled: c.disabled };
      }),
    );
    expect(controls.length).toBeGreaterThan(10);
    for (const c of controls) expect(c.name, `control #${c.id} has no label`).not.toBe('');
    const reached = new Set<string>();
    await light.page.focus('#experiment');
    for (let i = 0; i < controls.length + 5; i++) {
      reached.add(await light.page.evaluate(() => document.activeElement?.id ?? ''));
      await light.page.keyboard.press('Tab');
    }
    const missing = controls.filter((c) => !c.disabled && !reached.has(c.id)).map((c) => c.id);
    expect(missing).toEqual([]);
  });

  it('shows a message next to a bad field and starts nothing', async () => {
    const { page } = light;
    await choose(page, 'mnist-mlp', ['adamw', 'muon'], 0, 1);
    await page.fill('#opt-adamw-lr', 'abc');
    await page.click('#run');
    expect(await page.textContent('#steps-error')).toMatch(/whole number from 1/);
    expect(await page.textContent('#opt-adamw-error')).toContain('"abc" is not a learning rate');
    expect(await page.textContent('#cli-command')).toContain('fix the settings');
    expect(await page.getAttribute('body', 'data-state')).toBe('ready');
    expect(await stepsShown(page)).toBe(0);
    await page.click('#reset');
    expect(await page.inputValue('#opt-adamw-lr')).not.toBe('abc');
  });

  it(`trains ${STEPS} mnist-mlp steps with AdamW and Muon, paused half-way, bit-identical to the CLI command it shows`, async () => {
    const { page, problems } = light;
    await choose(page, 'mnist-mlp', ['adamw', 'muon'], STEPS, 1);
    const command = (await page.textContent('#cli-command'))!;
    expect(command).toBe(`npm run sandbox -- run mnist-mlp --steps ${STEPS} --seeds 1 --optimizers adamw,muon --backend wasm`);

    await page.click('#run');
    await page.waitForFunction(() => Number(document.body.dataset['steps'] ?? 0) >= 5, undefined, { timeout: 120_000 });
    await page.click('#pause');
    await page.waitForSelector('body[data-state=paused]');
    await page.screenshot({ path: join(SHOTS, 'playground-paused-light.png'), fullPage: true });
    const at = await stepsShown(page);
    await page.waitForTimeout(1500);
    expect(await stepsShown(page)).toBe(at);
    expect(at).toBeLessThan(2 * STEPS);
    await page.click('#resume');
    await page.waitForSelector('body[data-state=finished], body[data-state=error]', { timeout: 180_000 });
    expect(await page.getAttribute('body', 'data-state')).toBe('finished');
    await page.screenshot({ path: join(SHOTS, 'playground-light.png'), fullPage: true });
    expect(await page.locator('#figures figure').count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('#summary tbody tr').count()).toBe(2);
    // Every chart fits its column (none cropped) and its step axis reaches the last step.
    expect(await layoutProblems(page)).toEqual([]);
    const lossAxes = await xAxes(page, 'loss-mnist-mlp');
    expect(lossAxes.length).toBeGreaterThan(0);
    for (const axis of lossAxes) expect(axis.to).toBeGreaterThanOrEqual(STEPS);
    // One evaluation (at the end): an axis from step 0 to it, with whole-number ticks.
    const evalAxes = await xAxes(page, 'eval-mnist-mlp');
    expect(evalAxes.length).toBeGreaterThan(0);
    for (const axis of evalAxes) {
      // 0 to STEPS, plus the few px of padding that keep the point off the frame.
      expect(axis.from).toBeLessThanOrEqual(0);
      expect(axis.from).toBeGreaterThan(-STEPS / 10);
      expect(axis.to).toBeGreaterThanOrEqual(STEPS);
      expect(axis.to).toBeLessThan(STEPS * 1.1);
      expect(axis.ticks.length).toBeGreaterThan(1);
      for (const t of axis.ticks) expect(t).toMatch(/^\d[\d,]*$/);
    }
    // Laid out again for a new window width: one wide column instead of two.
    const narrow = await page.$eval('#figures figure .chart', (c) => c.clientWidth);
    await page.setViewportSize({ width: 900, height: 900 });
    await page.waitForFunction(
      (before) => [...document.querySelectorAll('#figures figure .chart')].every((c) => {
        const w = c.querySelector('svg')?.getBoundingClientRect().width ?? 0;
        return c.clientWidth > before && w > before && w <= c.clientWidth + 0.5;
      }),
      narrow,
      { timeout: 30_000 },
    );
    expect(await layoutProblems(page)).toEqual([]);
    await page.setViewportSize({ width: 1280, height: 900 });

    // The CLI command the page shows, run here in Node (wasm) into a temporary folder.
    const out = join(root, 'cli');
    const args = command.replace(/^npm run sandbox -- /, '').split(' ');
    vi.spyOn(console, 'log').mockImplementation(() => {});
    vi.spyOn(console, 'error').mockImplementation(() => {});
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const code = await main([...args, '--out', out]);
    vi.restoreAllMocks();
    expect(code).toBe(0);

    for (const label of ['adamw', 'muon']) {
      const item = page.locator('#downloads li', { hasText: `mnist-mlp__${label}__s0` });
      const fetchFile = async (name: string) => {
        const [download] = await Promise.all([page.waitForEvent('download'), item.getByText(name, { exact: true }).click()]);
        return readFileSync((await download.path())!, 'utf8');
      };
      const browserMetrics = (await fetchFile('metrics.jsonl')).trim().split('\n').map((l) => JSON.parse(l) as StepRecord);
      const browserSummary = JSON.parse(await fetchFile('summary.json')) as RunSummary;
      const browserConfig = JSON.parse(await fetchFile('config.json')) as Record<string, unknown>;
      const dir = join(out, `mnist-mlp__${label}__s0`);
      const cliMetrics = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as StepRecord);
      const cliSummary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as RunSummary;
      const cliConfig = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
      expect(browserMetrics).toHaveLength(STEPS);
      // Bit for bit: JSON numbers round-trip doubles exactly, so equal parsed values are equal bits.
      expect(browserMetrics.map((r) => r.loss)).toEqual(cliMetrics.map((r) => r.loss));
      expect(browserMetrics.map(numbers)).toEqual(cliMetrics.map(numbers));
      expect(browserSummary.configHash).toBe(cliSummary.configHash);
      expect(browserSummary.backend).toBe('wasm');
      for (const key of ['finalLoss', 'minLoss', 'initialLoss', 'initialEvalLoss', 'evalLoss', 'evalAcc', 'spikes', 'diverged', 'steps'] as const) {
        expect(browserSummary[key], key).toEqual(cliSummary[key]);
      }
      expect(comparable(browserConfig)).toEqual(comparable(cliConfig));
    }
    expect(problems).toEqual([]);
  }, 600_000);

  it('opens saved run folders (here the CLI run above) and shows their figures and table', async () => {
    const { page, problems } = light;
    await forgetState(page);
    await page.setInputFiles('#open-runs', join(root, 'cli'));
    await page.waitForSelector('body[data-state=finished], body[data-state=error]', { timeout: 60_000 });
    expect(await page.getAttribute('body', 'data-state')).toBe('finished');
    expect(await page.locator('#summary tbody tr').count()).toBe(2);
    expect(await page.locator('#figures figure').count()).toBeGreaterThanOrEqual(2);
    expect(problems).toEqual([]);
  }, 120_000);

  it('opens a published results bundle: the figures of its report.html, interactive, and a table of its cells', async () => {
    const { page, problems } = light;
    const study = join(root, 'bundle-study');
    const bundle = join(root, 'bundle');
    writeStudyFixture(study, { attention: true });
    vi.spyOn(console, 'log').mockImplementation(() => {});
    vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await main(['publish', study, '--out', bundle])).toBe(0);
    vi.restoreAllMocks();
    // The figures report.html holds, from the same analysis of the same bundle in Node.
    const expected = studyFigures(analyzeStudy(bundle)).map((f) => f.id);
    await forgetState(page);
    await page.setInputFiles('#open-bundle', bundle);
    await page.waitForSelector('body[data-state=finished], body[data-state=error]', { timeout: 120_000 });
    expect(await page.getAttribute('body', 'data-state')).toBe('finished');
    expect(await page.$$eval('#figures figure', (figs) => figs.map((f) => (f as HTMLElement).dataset['figure']))).toEqual(expected);
    // Drawn as live Vega views (hover, zoom), as on report.html.
    expect(await page.locator('#figures figure[data-figure="loss-tiny-mlp"] svg path').count()).toBeGreaterThan(0);
    // 2 tasks × 3 multipliers × 2 optimizers.
    expect(await page.locator('#summary tbody tr').count()).toBe(12);
    expect(await page.textContent('#open-bundle-error')).toBe('');
    expect(problems).toEqual([]);

    // A folder that is not a bundle: one line next to the control, nothing started.
    await page.setInputFiles('#open-bundle', study);
    await page.waitForFunction(() => (document.getElementById('open-bundle-error')?.textContent ?? '') !== '', undefined, { timeout: 30_000 });
    expect(await page.textContent('#open-bundle-error')).toBe('Not a results bundle (a bundle folder holds bundle.json and runs.json.gz)');
    expect(await page.getAttribute('body', 'data-state')).toBe('finished');

    // `?bundle=PATH`: the same bundle served beside the page (here answered by the test for that path).
    const served = await open('light');
    await served.page.route('**/served-bundle/*', (route) =>
      route.fulfill({ body: readFileSync(join(bundle, new URL(route.request().url()).pathname.split('/').pop()!)) }),
    );
    await served.page.goto(`${url}?bundle=served-bundle`);
    await served.page.waitForSelector('body[data-state=finished], body[data-state=error]', { timeout: 120_000 });
    expect(await served.page.getAttribute('body', 'data-state')).toBe('finished');
    expect(await served.page.$$eval('#figures figure', (figs) => figs.map((f) => (f as HTMLElement).dataset['figure']))).toEqual(expected);
    expect(served.problems).toEqual([]);
    await served.page.context().close();
  }, 300_000);

  it('resets a running run: the page is cleared and ready again', async () => {
    const { page } = light;
    await choose(page, 'moe-regimes', ['adamw', 'muon'], 400, 2);
    await page.click('#run');
    await page.waitForFunction(() => Number(document.body.dataset['steps'] ?? 0) >= 3, undefined, { timeout: 120_000 });
    await page.click('#reset');
    await page.waitForSelector('body[data-state=ready]', { timeout: 60_000 });
    expect(await page.getAttribute('body', 'data-steps')).toBeNull();
    expect(await page.locator('#figures figure').count()).toBe(0);
  }, 180_000);

  it('changes the backend on request and shows it', async () => {
    const { page, problems } = light;
    await page.selectOption('#backend', 'cpu');
    await page.waitForFunction(() => document.getElementById('backend-line')?.textContent?.startsWith('Backend in use: cpu'), undefined, { timeout: 60_000 });
    expect(await page.textContent('#backend-line')).toContain('only wasm is checked bit for bit');
    expect(await page.textContent('#cli-command')).toMatch(/--backend cpu$/);
    await page.selectOption('#backend', 'auto');
    await page.waitForFunction(() => document.getElementById('backend-line')?.textContent?.startsWith('Backend in use: wasm'), undefined, { timeout: 60_000 });
    expect(problems).toEqual([]);
  }, 120_000);

  it('renders the MoE panels in dark mode, during and after a run', async () => {
    const dark = await open('dark');
    const { page } = dark;
    await choose(page, 'moe-regimes', ['adamw', 'muon'], 40, 2);
    await page.click('#run');
    await page.waitForFunction(() => document.querySelectorAll('#figures figure').length > 0 && Number(document.body.dataset['steps'] ?? 0) >= 20, undefined, { timeout: 120_000 });
    await page.screenshot({ path: join(SHOTS, 'playground-running-dark.png'), fullPage: true });
    expect(await layoutProblems(page)).toEqual([]);
    await page.waitForSelector('body[data-state=finished], body[data-state=error]', { timeout: 180_000 });
    expect(await page.getAttribute('body', 'data-state')).toBe('finished');
    await page.screenshot({ path: join(SHOTS, 'playground-dark.png'), fullPage: true });
    expect(await layoutProblems(page)).toEqual([]);
    const moeAxes = await xAxes(page, 'loss-moe-regimes');
    expect(moeAxes.length).toBeGreaterThan(0);
    for (const axis of moeAxes) expect(axis.to).toBeGreaterThanOrEqual(40);
    const ids = await page.$$eval('#figures figure', (fs) => fs.map((f) => (f as HTMLElement).dataset['figure']));
    expect(ids.some((id) => id?.startsWith('loss-'))).toBe(true);
    expect(ids.some((id) => /maxvio|max-vio/i.test(id ?? ''))).toBe(true);
    expect(dark.problems).toEqual([]);
  }, 300_000);
});
