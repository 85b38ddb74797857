/**
 * Figures: the palette shared with the terminal charts, the rows figures plot (bands, events,
 * CIs), and the SVG files `report` and `view --svg/--html` write, read back and checked for their
 * data marks (counted against the synthetic study whose divergences and spikes are known), axis
 * titles with units, and captions.
 */
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { renderChart } from '../../src/text/chart.js';
import { main } from '../../src/cli/main.js';
import { ansi256, ansiForeground, OPTIMIZER_COLOURS, seriesColours } from '../../src/text/palette.js';
import { renderSvg } from '../../src/figures/render.js';
import { FEW_POINTS, layoutSpec, MARKS, rateFigure, wrap } from '../../src/figures/specs.js';
import { panelLayout, STATIC_FIGURE_WIDTH } from '../../src/figures/theme.js';
import { findRunDirs, loadRuns, runSeries } from '../../src/train/run_dirs.js';
import { studyFigures } from '../../src/figures/study_figures.js';
import { analyzeStudy } from '../../src/study/analyze.js';
import { band, divergenceEvents, meanWithCI, spikeEvents, traceOf, type Trace } from '../../src/figures/traces.js';
import type { StepRecord } from '../../src/train/loop.js';
import { ensureDir } from '../../src/train/run_files.js';
import { tempDir } from '../train/fixtures.js';
import { markGroups, markItems, parseSvg, svgTexts, type SvgElement } from './svg_check.js';
import { FIXTURE_MULTIPLIERS, FIXTURE_SEEDS, FIXTURE_TASKS, fixtureDivergesAt, fixtureSpikeSteps, writeStudyFixture } from './study_fixture.js';

describe('palette', () => {
  it('gives registered optimizers fixed colours whatever the order, and other labels distinct free colours', () => {
    const a = seriesColours(['muon', 'adamw']);
    const b = seriesColours(['adamw', 'my-variant', 'muon', 'other']);
    expect(a.get('muon')).toBe(OPTIMIZER_COLOURS['muon']);
    expect(b.get('muon')).toBe(OPTIMIZER_COLOURS['muon']);
    expect(a.get('adamw')).toBe(b.get('adamw'));
    const all = [...b.values()];
    expect(new Set(all).size).toBe(all.length);
    expect(Object.values(OPTIMIZER_COLOURS)).not.toContain(b.get('my-variant'));
  });

  it('maps colours onto the xterm 256-colour cube', () => {
    expect(ansi256('#000000')).toBe(16);
    expect(ansi256('#ffffff')).toBe(231);
    expect(ansi256('#ff0000')).toBe(196);
    expect(ansi256('#5f87af')).toBe(16 + 36 * 1 + 6 * 2 + 3);
    expect(() => ansi256('red')).toThrow(/not a #rrggbb/);
  });

  it('colours the terminal chart of an optimizer as its figures', () => {
    const out = renderChart(
      [
        { label: 'adamw', values: [3, 2, 1] },
        { label: 'muon', values: [3, 1, 0.5] },
      ],
      { width: 60, color: true },
    );
    const legend = out.split('\n').slice(-2);
    expect(legend[0]).toContain(ansiForeground(OPTIMIZER_COLOURS['adamw']!));
    expect(legend[1]).toContain(ansiForeground(OPTIMIZER_COLOURS['muon']!));
  });
});

const rec = (step: number, loss: number, spikes?: string[]): StepRecord => ({ step, loss, gradNorm: 1, updateRms: {}, lr: 1, ms: 1, ...(spikes ? { spikes } : {}) });

describe('traces', () => {
  const trace = (seed: number, values: number[], divergedAt: number | null = null): Trace => ({
    seed,
    steps: values.map((_, i) => i + 1),
    values,
    spikes: [],
    divergedAt,
    lastValue: values.at(-1) ?? null,
  });

  it('band: per-step median and type-7 quartiles over the runs that have the step', () => {
    const b = band([trace(0, [1, 2, 3]), trace(1, [3, 4]), trace(2, [5, 6, 9]), trace(3, [7, 8])], 10);
    expect(b.map((p) => p.step)).toEqual([1, 2, 3]);
    expect(b[0]).toEqual({ step: 1, median: 4, q1: 2.5, q3: 5.5, n: 4 });
    expect(b[2]).toEqual({ step: 3, median: 6, q1: 4.5, q3: 7.5, n: 2 });
  });

  it('band: downsamples long runs to at most maxPoints buckets of per-run means', () => {
    const long = Array.from({ length: 1000 }, (_, i) => i + 1);
    const b = band([trace(0, long), trace(1, long.map((v) => 2 * v))], 100);
    expect(b).toHaveLength(100);
    // Bucket 0 holds steps 1..10: run means 5.5 and 11, their median 8.25; mean step 5.5.
    expect(b[0]).toMatchObject({ step: 5.5, median: 8.25, n: 2 });
    expect(b.at(-1)!.step).toBe(995.5);
  });

  it('traceOf: one spike event per run of flagged steps, non-finite values dropped, divergence at the last record', () => {
    const records = [rec(1, 2), rec(2, 5, ['median']), rec(3, 6, ['median', 'zscore']), rec(4, 2), rec(5, 4, ['gradnorm']), rec(6, NaN)];
    const t = traceOf(3, records, (r) => r.loss, true);
    expect(t.steps).toEqual([1, 2, 3, 4, 5]);
    expect(t.spikes).toEqual([
      { step: 2, detectors: ['median'], value: 5 },
      { step: 5, detectors: ['gradnorm'], value: 4 },
    ]);
    expect(t.divergedAt).toBe(6);
    expect(spikeEvents([t]).map((e) => [e.step, e.value])).toEqual([
      [2, 5],
      [5, 4],
    ]);
    expect(divergenceEvents([t])).toEqual([{ seed: 3, step: 6, value: 4, note: 'diverged at step 6' }]);
    expect(divergenceEvents([traceOf(0, records, (r) => r.loss, false)])).toEqual([]);
  });

  it('meanWithCI: the mean with a bootstrap interval around it; a constant sample collapses', () => {
    expect(meanWithCI([], 1)).toBeNull();
    expect(meanWithCI([0.5, 0.5, 0.5], 1)).toEqual({ mean: 0.5, lo: 0.5, hi: 0.5, n: 3 });
    const ci = meanWithCI([0, 0, 1, 1, 1], 7, 2000)!;
    expect(ci.mean).toBeCloseTo(0.6, 12);
    expect(ci.lo).toBeLessThan(0.6);
    expect(ci.hi).toBeGreaterThan(0.6);
    expect(ci.lo).toBeGreaterThanOrEqual(0);
    expect(ci.hi).toBeLessThanOrEqual(1);
    expect(meanWithCI([0, 0, 1, 1, 1], 7, 2000)).toEqual(ci);
  });

  it('wrap: lines no longer than the width, words kept whole', () => {
    const lines = wrap('one two three four five six seven', 10);
    expect(lines).toEqual(['one two', 'three four', 'five six', 'seven']);
  });
});

// ---- SVG files from a study and from run folders

let root: string;
beforeAll(async () => {
  await initBackend();
  root = tempDir('figures');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

function quiet(): { errors: string[] } {
  const errors: string[] = [];
  vi.spyOn(console, 'log').mockImplementation(() => {});
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void errors.push(a.map(String).join(' ')));
  return { errors };
}

const read = (path: string) => parseSvg(readFileSync(path, 'utf8'));
const label = (e: SvgElement) => e.attrs['aria-label'] ?? '';

describe('report: SVG figures of a study', () => {
  let dir: string;
  let report: string;
  let errors: string[];
  beforeAll(async () => {
    dir = join(root, 'study');
    writeStudyFixture(dir);
    ({ errors } = quiet());
    expect(await main(['report', dir])).toBe(0);
    vi.restoreAllMocks();
    report = readFileSync(join(dir, 'REPORT.md'), 'utf8');
  });

  it('REPORT.md links every figure by a relative path to an SVG file that exists and parses', () => {
    const links = [...report.matchAll(/!\[([^\]]+)\]\(([^)]+)\)/g)].map((m) => m[2]!);
    const expected = ['lr-sensitivity', 'divergence-rate', 'spike-rates', 'loss-tiny-mlp', 'eval-tiny-mlp', 'loss-tiny-moe', 'eval-tiny-moe', 'maxvio-tiny-moe', 'router-logit-tiny-moe'];
    expect(links).toEqual(expected.map((id) => `figures/${id}.svg`));
    expect(readdirSync(join(dir, 'figures')).sort()).toEqual(expected.map((id) => `${id}.svg`).sort());
    for (const l of links) {
      const els = read(join(dir, l));
      expect(els.filter((e) => e.attrs['role'] === 'graphics-symbol' || /mark-(line|area)/.test(e.attrs['class'] ?? '')).length, l).toBeGreaterThan(0);
    }
    // Rendering warnings would have been printed as "figure <id>: …".
    expect(errors.filter((e) => e.startsWith('figure '))).toEqual([]);
    // A caption follows each image in the Markdown too.
    expect(report).toMatch(/!\[tiny-moe: training loss at 1×, 2×, 4× the tuned LR\]\(figures\/loss-tiny-moe\.svg\)\n\n\*Training loss per step/);
  });

  it('loss curves: a median line per optimizer in every panel, every spike event and every divergence marked', () => {
    for (const task of FIXTURE_TASKS) {
      const els = read(join(dir, 'figures', `loss-${task}.svg`));
      FIXTURE_MULTIPLIERS.forEach((m, p) => {
        // Line marks are grouped by series: one group per optimizer.
        expect(markGroups(els, `${MARKS.median}${p}`), `${task} ${m}×`).toHaveLength(2);
        expect(markGroups(els, `${MARKS.band}${p}`)).toHaveLength(2);
        // The hover-only layer of the page is not in the static file.
        expect(markGroups(els, `hover${p}`)).toHaveLength(0);
        const spikes = FIXTURE_SEEDS.flatMap((s) => fixtureSpikeSteps('adamw', m, fixtureDivergesAt('adamw', m, s) ?? 120));
        expect(markItems(els, `${MARKS.spike}${p}`)).toHaveLength(spikes.length);
        const diverged = FIXTURE_SEEDS.flatMap((s) => ['adamw', 'muon'].filter((l) => fixtureDivergesAt(l, m, s) !== null));
        expect(markItems(els, `${MARKS.diverged}${p}`)).toHaveLength(diverged.length);
      });
      // 4×: adamw diverges at 40, 50, 60 and muon (seed 2) at 90, each marker at its own step.
      const marked = markItems(els, `${MARKS.diverged}2`).map(label);
      expect(marked.filter((l) => /optimizer: adamw/.test(l)).map((l) => /step: (\d+)/.exec(l)![1])).toEqual(['40', '50', '60']);
      expect(marked.filter((l) => /optimizer: muon/.test(l)).map((l) => /step: (\d+)/.exec(l)![1])).toEqual(['90']);
      const texts = svgTexts(els);
      expect(texts).toContain('training step');
      expect(texts).toContain(task === 'tiny-moe' ? 'training loss (MSE)' : 'training loss (nats)');
      // Each panel names the LRs it ran at: the tuned LRs (adamw 0.01, muon 0.05) × the multiplier.
      expect(texts).toEqual(
        expect.arrayContaining(['1× tuned LR (adamw 0.01, muon 0.05)', '2× tuned LR (adamw 0.02, muon 0.1)', '4× tuned LR (adamw 0.04, muon 0.2)', 'adamw', 'muon']),
      );
      // 120 steps per run: a line, no point markers.
      expect(markItems(els, `${MARKS.point}0`)).toHaveLength(0);
      const caption = texts.join(' ');
      expect(caption).toContain('3 seeds per optimizer and multiplier; 4 of 18 runs diverged');
      expect(caption).toContain('interquartile range (band)');
    }
  });

  it('eval curves with few evaluations get a point at each evaluation, so two points do not read as a trend', () => {
    for (const task of FIXTURE_TASKS) {
      const els = read(join(dir, 'figures', `eval-${task}.svg`));
      FIXTURE_MULTIPLIERS.forEach((m, p) => {
        const lines = markGroups(els, `${MARKS.median}${p}`).length;
        const points = markItems(els, `${MARKS.point}${p}`);
        expect(points.length, `${task} ${m}×`).toBeGreaterThan(0);
        expect(points.length, `${task} ${m}×`).toBeLessThan(FEW_POINTS * lines);
      });
    }
  });

  it('LR sensitivity: each grid point, the diverged ones crossed, the tuned LR ringed', () => {
    const els = read(join(dir, 'figures', 'lr-sensitivity.svg'));
    FIXTURE_TASKS.forEach((_task, p) => {
      expect(markGroups(els, `${MARKS.median}${p}`)).toHaveLength(2);
      // adamw's 0.1 diverged in one of three seeds; all other grid points are clean.
      expect(markItems(els, `${MARKS.diverged}${p}`).map(label)).toEqual([expect.stringMatching(/learning rate.*: 0\.1;.*optimizer: adamw.*1\/3 runs diverged/)]);
      expect(markItems(els, `${MARKS.point}${p}`)).toHaveLength(5);
      const tuned = markItems(els, `${MARKS.tuned}${p}`).map(label);
      expect(tuned).toHaveLength(2);
      expect(tuned.find((l) => l.includes('adamw'))).toMatch(/: 0\.01;/);
      expect(tuned.find((l) => l.includes('muon'))).toMatch(/: 0\.05;/);
    });
    const texts = svgTexts(els);
    expect(texts).toEqual(expect.arrayContaining(['learning rate (main group, log scale)', 'final eval loss', 'tiny-moe (eval loss: MSE)']));
    expect(texts.join(' ')).toContain('Median over 3 seeds');
  });

  it('divergence rate: a point and a CI per optimizer and multiplier, at the fixture rates', () => {
    const els = read(join(dir, 'figures', 'divergence-rate.svg'));
    FIXTURE_TASKS.forEach((_task, p) => {
      const points = markItems(els, `${MARKS.point}${p}`).map(label);
      expect(points).toHaveLength(FIXTURE_MULTIPLIERS.length * 2);
      expect(markItems(els, `${MARKS.interval}${p}`)).toHaveLength(FIXTURE_MULTIPLIERS.length * 2);
      const at4 = (o: string) => points.find((l) => l.includes(`optimizer: ${o}`) && l.includes('4×'))!;
      expect(at4('adamw')).toMatch(/divergence rate \(fraction\): 1\b/);
      expect(at4('muon')).toMatch(/divergence rate \(fraction\): 0\.3333/);
    });
    expect(svgTexts(els)).toContain('LR multiplier (× tuned LR)');
  });

  it('MoE balance only for the MoE task; no attention figures without attention metrics', () => {
    const files = readdirSync(join(dir, 'figures'));
    expect(files).toContain('maxvio-tiny-moe.svg');
    expect(files.some((f) => f.startsWith('maxvio-tiny-mlp'))).toBe(false);
    expect(files.some((f) => f.startsWith('attn-'))).toBe(false);
    const els = read(join(dir, 'figures', 'maxvio-tiny-moe.svg'));
    expect(svgTexts(els)).toContain('MaxVio (excess, × mean load)');
  });

  it('writes one self-contained report.html: runtime, specs and data inline, nothing fetched', () => {
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|<img[^>]+src=|@import|url\(http/i);
    expect(html).toContain('vegaLite');
    const specs = JSON.parse(/<script type="application\/json" id="figure-specs">([\s\S]*?)<\/script>/.exec(html)![1]!) as { id: string; spec: { data: { values: unknown[] } } }[];
    expect(specs.map((s) => s.id)).toEqual(readdirSync(join(dir, 'figures')).map((f) => f.replace('.svg', '')).sort((a, b) => specs.findIndex((s) => s.id === a) - specs.findIndex((s) => s.id === b)));
    for (const s of specs) expect(s.spec.data.values.length, s.id).toBeGreaterThan(0);
    // Every script block closes where it should: the inlined libraries contain no raw </script.
    expect(html.match(/<script/g)!.length).toBe(html.match(/<\/script>/g)!.length);
  });

  it('adds attention figures when the runs record maxAttnLogit and minAttnEntropy', async () => {
    const lm = join(root, 'study-attn');
    writeStudyFixture(lm, { attention: true });
    const figures = studyFigures(analyzeStudy(lm));
    const ids = figures.map((f) => f.id);
    for (const task of FIXTURE_TASKS) expect(ids).toEqual(expect.arrayContaining([`attn-logit-${task}`, `attn-entropy-${task}`]));
    const { svg, warnings } = await renderSvg(figures.find((f) => f.id === 'attn-entropy-tiny-mlp')!.spec);
    expect(warnings).toEqual([]);
    const els = parseSvg(svg);
    expect(svgTexts(els)).toContain('min attention entropy (nats)');
    expect(markGroups(els, `${MARKS.median}0`)).toHaveLength(2);
  });
});

describe('view --svg / --html: figures of plain run folders', () => {
  let runs: string;
  beforeAll(() => {
    // The fixture's stress runs are ordinary run folders (config.json + metrics.jsonl + summary.json).
    const study = join(root, 'for-view');
    writeStudyFixture(study);
    runs = join(study, 'runs');
  });

  it('writes an SVG per experiment and metric and one HTML page', async () => {
    const svgDir = join(root, 'view-svg');
    const page = join(root, 'view.html');
    const { errors } = quiet();
    expect(await main(['view', runs, '--svg', svgDir, '--html', page])).toBe(0);
    expect(errors.filter((e) => e.startsWith('figure '))).toEqual([]);
    const files = readdirSync(svgDir).sort();
    expect(files).toEqual(['eval-tiny-mlp.svg', 'eval-tiny-moe.svg', 'loss-tiny-mlp.svg', 'loss-tiny-moe.svg', 'maxvio-tiny-moe.svg', 'router-logit-tiny-moe.svg']);
    const els = read(join(svgDir, 'loss-tiny-moe.svg'));
    // One line per series (optimizer × LR used × setting), over the panels (one per setting: the
    // stress runs, the tuning runs with their own horizon and schedule); none pooled.
    const series = runSeries(loadRuns(findRunDirs([runs]))).filter((s) => s.experiment === 'tiny-moe');
    const panels = new Set(series.map((s) => s.variant)).size;
    expect(panels).toBeGreaterThan(1);
    const lines = Array.from({ length: panels }, (_, p) => markGroups(els, `${MARKS.median}${p}`).length);
    expect(lines.reduce((a, b) => a + b, 0)).toBe(series.length);
    const texts = svgTexts(els);
    expect(texts).toContain('training loss (MSE)');
    // Legend entries name the optimizer and the LR it ran with, in full.
    for (const s of series) expect(texts).toContain(s.name);
    expect(texts.some((t) => /×\d/.test(t) && /adamw|muon/.test(t))).toBe(false);
    const html = readFileSync(page, 'utf8');
    expect(html).toContain('<title>Runs: tiny-mlp, tiny-moe</title>');
    expect(html).not.toMatch(/<script[^>]+src=/);
  });

  it('refuses a page in a folder that does not exist, with one line and status 2, writing nothing', async () => {
    const { errors } = quiet();
    const svgDir = join(root, 'never-written');
    expect(await main(['view', runs, '--svg', svgDir, '--html', join(root, 'no-such', 'x.html')])).toBe(2);
    expect(errors.at(-1)).toMatch(/^error: --html .*no-such.*x\.html: folder .* does not exist$/);
    expect(existsSync(svgDir)).toBe(false);
    ensureDir(join(root, 'a-folder'));
    expect(await main(['view', runs, '--html', join(root, 'a-folder')])).toBe(2);
    expect(errors.at(-1)).toMatch(/is a folder/);
    writeFileSync(join(root, 'a-file'), 'x');
    expect(await main(['view', runs, '--svg', join(root, 'a-file')])).toBe(2);
    expect(errors.at(-1)).toMatch(/--svg .*a-file: exists and is not a folder/);
  });
});

describe('layout: panels sized to the figure width', () => {
  it('fills the width without exceeding it, balancing the rows', () => {
    for (const width of [480, 980, 1344, 1900]) {
      for (const count of [1, 2, 3, 4, 5, 9, 15]) {
        const l = panelLayout(width, count);
        const used = l.columns * (l.width + 56) + (l.columns - 1) * 28;
        expect(used, `${width} px, ${count} panels`).toBeLessThanOrEqual(Math.max(width, 120 + 56));
        expect(used, `${width} px, ${count} panels`).toBeGreaterThan(width - 28 - l.columns);
        // Rows as even as they can be: the last row is never shorter by more than one row's worth of slack.
        const rows = Math.ceil(count / l.columns);
        expect(rows * l.columns - count).toBeLessThan(rows);
      }
    }
    // 4 panels in a 1344 px page: one row of 4; the SVG files' width: 2 × 2, not 3 + 1.
    expect(panelLayout(1344, 4).columns).toBe(4);
    expect(panelLayout(STATIC_FIGURE_WIDTH, 4).columns).toBe(2);
    // A figure that fixes its columns keeps them.
    expect(panelLayout(1344, 15, 3).columns).toBe(3);
  });

  it('layoutSpec sets the columns and every panel to the computed size', () => {
    const f = rateFigure({
      id: 'r', section: 's', title: 't', caption: 'c', yTitle: 'y', multipliers: ['1×'],
      colours: seriesColours(['adamw', 'muon']),
      panels: ['a', 'b', 'c'].map((title) => ({ title, cells: [{ multiplier: '1×', label: 'adamw', ci: { mean: 1, lo: 0, hi: 2, n: 3 } }] })),
    });
    const wide = layoutSpec(f.spec, 1344) as unknown as { columns: number; concat: { width: number; height: number }[] };
    const l = panelLayout(1344, 3);
    expect(wide.columns).toBe(l.columns);
    expect(wide.concat.map((p) => [p.width, p.height])).toEqual(Array(3).fill([l.width, l.height]));
  });

  it('an all-zero rate panel gets a 0–1 axis, not one tick labelled 0.000000', async () => {
    const f = rateFigure({
      id: 'zero', section: 's', title: 't', caption: 'c', yTitle: 'spikes per 1k steps', multipliers: ['1×', '2×'],
      colours: seriesColours(['adamw', 'muon']),
      panels: [{ title: 'no spikes', cells: ['1×', '2×'].flatMap((m) => ['adamw', 'muon'].map((label) => ({ multiplier: m, label, ci: { mean: 0, lo: 0, hi: 0, n: 3 } }))) }],
    });
    const { svg, warnings } = await renderSvg(f.spec);
    expect(warnings).toEqual([]);
    const texts = svgTexts(parseSvg(svg));
    expect(texts.some((t) => /^0\.0{4,}$/.test(t))).toBe(false);
    expect(texts).toEqual(expect.arrayContaining(['0.0', '0.5', '1.0']));
    // The legend is above the panels and names the optimizers in full.
    expect(texts).toEqual(expect.arrayContaining(['adamw', 'muon']));
  });
});

