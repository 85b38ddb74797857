/**
 * `npm run test:browser`: the HTML pages in a real browser. A synthetic study (known spikes and
 * divergences) goes through `report`, its run folders through `view --html`; both pages open from
 * disk in headless Chromium with every network request refused. Checks: no console error, every
 * figure rendered with the expected number of series and marks, hover tooltips, legend toggling
 * and wheel zoom work, the SVG files parse in the browser's XML parser; at 1400 px (and again
 * after a resize) every chart fills its column without overflowing the page, and the legends show
 * full series names; a screenshot per page (light and dark) goes to test-output/browser/ (git-ignored).
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { main } from '../../src/cli/main.js';
import { findRunDirs, loadRun, runSeries } from '../../src/train/run_dirs.js';
import { ensureDir } from '../../src/train/run_files.js';
import { FIXTURE_MULTIPLIERS, FIXTURE_SEEDS, FIXTURE_TASKS, fixtureDivergesAt, fixtureSpikeSteps, writeStudyFixture } from '../figures/study_fixture.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** The window width the pages are checked at (a common laptop screen). */
const PAGE_WIDTH = 1400;
const SHOTS = resolve('test-output', 'browser');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let root: string;
let study: string;
let viewPage: string;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  await initBackend();
  root = mkdtempSync(join(tmpdir(), 'opt-sandbox-browser-'));
  study = join(root, 'study');
  writeStudyFixture(study);
  viewPage = join(root, 'view.html');
  vi.spyOn(console, 'log').mockImplementation(() => {});
  vi.spyOn(console, 'error').mockImplementation(() => {});
  expect(await main(['report', study])).toBe(0);
  expect(await main(['view', join(study, 'runs'), '--html', viewPage])).toBe(0);
  vi.restoreAllMocks();
  ensureDir(SHOTS);
});

afterAll(async () => {
  for (const c of contexts) await c.close();
  rmSync(root, { recursive: true, force: true });
});

interface Opened {
  readonly page: Page;
  readonly problems: string[];
}

/** A fresh profile, no network: every request that is not file:// is aborted and recorded. */
async function open(file: string, colorScheme: 'light' | 'dark'): Promise<Opened> {
  const context = await chromium.launchPersistentContext(mkdtempSync(join(root, 'profile-')), {
    executablePath: CHROMIUM,
    args: ARGS,
    headless: true,
    viewport: { width: PAGE_WIDTH, height: 900 },
    colorScheme,
  });
  contexts.push(context);
  const problems: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:')) return route.continue();
    problems.push(`network request: ${url}`);
    return route.abort();
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(pathToFileURL(file).href);
  await page.waitForSelector('body[data-ready]', { timeout: 60_000 });
  expect(await page.getAttribute('body', 'data-ready')).toBe('true');
  return { page, problems };
}

/** Counts inside one figure: mark groups (one per series for lines) and drawn items of a named mark. */
/**
 * Move the pointer onto a mark until the tooltip shows. On a loaded machine the first move can
 * reach the page before the view has re-rendered after scrolling (the pointer event then hits
 * nothing), so the move is repeated from off the chart a few times before giving up.
 */
async function hoverUntilTooltip(page: Page, box: { x: number; y: number; width: number; height: number }): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await page.mouse.move(5, 5);
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 3 });
    try {
      await page.waitForSelector('#tooltip:not([hidden])', { timeout: 3000 });
      return;
    } catch (e) {
      if (attempt >= 4) throw e;
    }
  }
}

async function counts(page: Page, figure: string, mark: string): Promise<{ groups: number; items: number }> {
  return page.evaluate(
    ([f, m]) => {
      const groups = [...document.querySelectorAll(`[data-figure="${f}"] .chart g.${m}_marks`)];
      return { groups: groups.length, items: groups.reduce((a, g) => a + g.querySelectorAll(':scope > path, :scope > line').length, 0) };
    },
    [figure, mark] as const,
  );
}

interface LayoutReport {
  /** Page wider than the window (a horizontal scrollbar). */
  readonly pageOverflow: number;
  /** Per figure: its column's width, the drawn chart's width. */
  readonly charts: readonly { id: string; column: number; chart: number }[];
  /** Legend labels as drawn, and those cut short (with an ellipsis) or outside their column. */
  readonly legendLabels: readonly string[];
  readonly clipped: readonly string[];
}

/** How the charts sit in the page: widths, overflow, legend labels. */
async function layoutOf(page: Page): Promise<LayoutReport> {
  return page.evaluate(() => {
    const charts = [...document.querySelectorAll<HTMLElement>('[data-figure]')].map((f) => {
      const column = f.querySelector<HTMLElement>('.chart')!;
      const svg = column.querySelector('svg');
      return { id: f.dataset['figure']!, column: column.clientWidth, chart: svg ? svg.getBoundingClientRect().width : 0 };
    });
    const labels = [...document.querySelectorAll<SVGTextElement>('.role-legend-label text')];
    const clipped = labels
      .filter((t) => {
        const r = t.getBoundingClientRect();
        const column = t.closest('.chart')!.getBoundingClientRect();
        return (t.textContent ?? '').endsWith('…') || r.right > column.right + 0.5 || r.left < column.left - 0.5;
      })
      .map((t) => t.textContent ?? '');
    return {
      pageOverflow: document.documentElement.scrollWidth - window.innerWidth,
      charts,
      legendLabels: [...new Set(labels.map((t) => t.textContent ?? ''))],
      clipped,
    };
  });
}

/** Every chart fills its column (at least `fill` of it) and none is wider; no horizontal scrollbar, no cut legend. */
function expectFitted(layout: LayoutReport, fill = 0.85): void {
  expect(layout.pageOverflow).toBeLessThanOrEqual(0);
  expect(layout.charts.length).toBeGreaterThan(0);
  for (const c of layout.charts) {
    expect(c.chart, `${c.id} wider than its column`).toBeLessThanOrEqual(c.column + 0.5);
    expect(c.chart, `${c.id} fills its column`).toBeGreaterThanOrEqual(c.column * fill);
  }
  expect(layout.clipped).toEqual([]);
}

const spikeCount = (m: number) => FIXTURE_SEEDS.flatMap((s) => fixtureSpikeSteps('adamw', m, fixtureDivergesAt('adamw', m, s) ?? 120)).length;
const divergedCount = (m: number) => FIXTURE_SEEDS.flatMap((s) => ['adamw', 'muon'].filter((l) => fixtureDivergesAt(l, m, s) !== null)).length;

describe('report.html of a study', () => {
  let opened: Opened;
  beforeAll(async () => {
    opened = await open(join(study, 'report.html'), 'light');
  });

  it('renders every figure, with no console error and no network request', async () => {
    const { page, problems } = opened;
    const ids = readdirSync(join(study, 'figures')).map((f) => f.replace(/\.svg$/, ''));
    const rendered = await page.$$eval('[data-figure]', (els) => els.map((e) => [e.getAttribute('data-figure'), e.querySelector('.chart[data-rendered="true"] svg') !== null]));
    expect(rendered.map(([id]) => id).sort()).toEqual(ids.sort());
    expect(rendered.filter(([, ok]) => !ok)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'report-light.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('draws the series and markers the study has', async () => {
    const { page } = opened;
    for (const task of FIXTURE_TASKS) {
      for (const [p, m] of FIXTURE_MULTIPLIERS.entries()) {
        expect((await counts(page, `loss-${task}`, `median${p}`)).groups, `${task} ${m}× lines`).toBe(2);
        expect((await counts(page, `loss-${task}`, `spike${p}`)).items, `${task} ${m}× spikes`).toBe(spikeCount(m));
        expect((await counts(page, `loss-${task}`, `diverged${p}`)).items, `${task} ${m}× divergences`).toBe(divergedCount(m));
        expect((await counts(page, `eval-${task}`, `median${p}`)).groups).toBe(2);
      }
    }
    for (const [p] of FIXTURE_TASKS.entries()) {
      expect((await counts(page, 'lr-sensitivity', `tuned${p}`)).items).toBe(2);
      expect((await counts(page, 'lr-sensitivity', `diverged${p}`)).items).toBe(1);
      expect((await counts(page, 'divergence-rate', `point${p}`)).items).toBe(FIXTURE_MULTIPLIERS.length * 2);
    }
    for (const [p] of FIXTURE_MULTIPLIERS.entries()) expect((await counts(page, 'maxvio-tiny-moe', `median${p}`)).groups).toBe(2);
  });

  it('sizes every chart to the page: no horizontal scrollbar, legends with the full optimizer names', async () => {
    const { page } = opened;
    const layout = await layoutOf(page);
    expectFitted(layout);
    expect(layout.charts[0]!.column).toBeGreaterThan(PAGE_WIDTH * 0.9);
    expect(layout.legendLabels).toEqual(expect.arrayContaining(['adamw', 'muon']));
    // Narrower window: the charts are laid out again to the new width, still fitted.
    await page.setViewportSize({ width: 900, height: 900 });
    await page.waitForFunction((w) => document.querySelector('.chart svg')!.getBoundingClientRect().width <= w, 900, { timeout: 10_000 });
    await page.waitForTimeout(300);
    expectFitted(await layoutOf(page));
    await page.setViewportSize({ width: PAGE_WIDTH, height: 900 });
    await page.waitForFunction((w) => document.querySelector('.chart svg')!.getBoundingClientRect().width > w, 1000, { timeout: 10_000 });
    await page.waitForTimeout(300);
  });

  it('the SVG files parse in the browser as SVG', async () => {
    const { page } = opened;
    for (const f of readdirSync(join(study, 'figures'))) {
      const text = readFileSync(join(study, 'figures', f), 'utf8');
      const result = await page.evaluate((t) => {
        const doc = new DOMParser().parseFromString(t, 'image/svg+xml');
        return { error: doc.querySelector('parsererror')?.textContent ?? null, root: doc.documentElement.localName, paths: doc.querySelectorAll('path').length };
      }, text);
      expect(result, f).toMatchObject({ error: null, root: 'svg' });
      expect(result.paths, f).toBeGreaterThan(0);
    }
  });

  it('shows values on hover, toggles a series from the legend, zooms on the wheel', async () => {
    const { page, problems } = opened;
    // Hover the first spike marker of the 2× panel.
    const spike = page.locator('[data-figure="loss-tiny-moe"] g.spike1_marks > path').first();
    await spike.scrollIntoViewIfNeeded();
    await hoverUntilTooltip(page, (await spike.boundingBox())!);
    const tip = await page.textContent('#tooltip');
    expect(tip).toContain('optimizer: adamw');
    expect(tip).toContain('event: spike (median, zscore)');
    await page.mouse.move(5, 5);
    await page.waitForSelector('#tooltip', { state: 'hidden', timeout: 5000 });
    // Hover a point along a curve: the median, quartiles and run count at that step.
    const along = page.locator('[data-figure="loss-tiny-moe"] g.hover0_marks > path').nth(60);
    await hoverUntilTooltip(page, (await along.boundingBox())!);
    expect(await page.textContent('#tooltip')).toMatch(/optimizer: (adamw|muon)step: \d+median: [\d.]+q1: [\d.]+q3: [\d.]+runs: 3/);
    await page.mouse.move(5, 5);

    // Click "muon" in the legend: adamw's line fades, muon's stays opaque.
    const opacities = () =>
      page.$$eval('[data-figure="loss-tiny-moe"] g.median0_marks > path', (ps) => ps.map((p) => [p.getAttribute('stroke'), Number(p.getAttribute('opacity') ?? '1')]));
    expect((await opacities()).every(([, o]) => o === 1)).toBe(true);
    await page.locator('[data-figure="loss-tiny-moe"] .role-legend-label text', { hasText: 'muon' }).first().click();
    const after = new Map((await opacities()) as [string, number][]);
    expect(after.get('#ee8434')).toBe(1);
    expect(after.get('#4e8fd8')).toBeLessThan(0.5);

    // Wheel over the first panel: its x-axis labels change (the scale domain zoomed).
    const xLabels = () => page.$$eval('[data-figure="loss-tiny-moe"] .role-axis-label', (gs) => gs.map((g) => g.textContent).join('|'));
    const before = await xLabels();
    const panel = page.locator('[data-figure="loss-tiny-moe"] g.median0_marks').first();
    await panel.scrollIntoViewIfNeeded();
    const plot = (await panel.boundingBox())!;
    await page.mouse.move(plot.x + plot.width / 2, plot.y + plot.height / 2);
    await page.mouse.wheel(0, -400);
    await page.waitForTimeout(300);
    expect(await xLabels()).not.toBe(before);
    expect(problems).toEqual([]);
  });

  it('renders in dark mode too', async () => {
    const dark = await open(join(study, 'report.html'), 'dark');
    const bg = await dark.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(bg).toBe('rgb(13, 17, 23)');
    await dark.page.screenshot({ path: join(SHOTS, 'report-dark.png'), fullPage: true });
    expect(dark.problems).toEqual([]);
  });
});

describe('view --html page of run folders', () => {
  it('renders a loss figure per experiment, a panel per setting, one series per optimizer and LR used, without errors', async () => {
    const { page, problems } = await open(viewPage, 'light');
    const runs = findRunDirs([join(study, 'runs')]).map(loadRun);
    for (const task of FIXTURE_TASKS) {
      const series = runSeries(runs).filter((s) => s.experiment === task);
      const panels = new Set(series.map((s) => s.variant)).size;
      const lines = async (figure: string) => {
        let n = 0;
        for (let p = 0; p < panels; p++) n += (await counts(page, figure, `median${p}`)).groups;
        return n;
      };
      expect(await lines(`loss-${task}`), task).toBe(series.length);
      // Tuning runs evaluate only at their end: one point per series, no line group for it.
      expect(await lines(`eval-${task}`), task).toBeGreaterThan(0);
    }
    expect((await counts(page, 'maxvio-tiny-moe', 'median0')).groups).toBeGreaterThan(0);
    const layout = await layoutOf(page);
    expectFitted(layout);
    // Legend entries name optimizer and LR in full ("adamw lr 0.02"), never a multiple of the spec's LR.
    const names = new Set(runSeries(runs).map((s) => s.name));
    expect(layout.legendLabels.filter((l) => l !== '').every((l) => names.has(l))).toBe(true);
    expect(layout.legendLabels.some((l) => /×/.test(l))).toBe(false);
    await page.screenshot({ path: join(SHOTS, 'view-light.png'), fullPage: true });
    expect(problems).toEqual([]);
  });
});
