/**
 * The study report from hand-written study folders whose numbers are known in advance: tuned LRs,
 * LR sensitivity, stress cells, MoE balance over time, and verdicts (supported, contradicted,
 * inconclusive both ways) that must follow from the CIs. Also `verdictFrom` alone, and the CLI's
 * `report` command in-process.
 */
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { main } from '../../src/cli/main.js';
import { analyzeStudy } from '../../src/study/analyze.js';
import { verdictFrom } from '../../src/study/compare.js';
import type { Comparison, Endpoint, StudyResults } from '../../src/study/results.js';
import { planArm, planStress, planTuning, type StudySpec } from '../../src/study/protocol.js';
import { runnableArms } from '../../src/study/study.js';
import { armLabels } from '../../src/study/arms.js';
import { renderReport } from '../../src/study/report.js';
import { figuresMarkdown } from '../../src/figures/output.js';
import { studyFigures } from '../../src/figures/study_figures.js';
import { RUNS_DIR, STUDY_FILE, type StudyFile } from '../../src/study/study.js';
import type { ExperimentSpec, RunConfig } from '../../src/train/config.js';
import { configHash, type RunSummary } from '../../src/train/run.js';
import { formatNumber } from '../../src/text/table.js';
import { CONFIG_FILE, METRICS_FILE, SUMMARY_FILE, ensureDir, toJSONLine, writeJSONAtomic } from '../../src/train/run_files.js';
import { tempDir, tinyMlp, tinyMoe } from '../train/fixtures.js';

/** docs/references.md#the-claim, typed out here independently of the CLAIM constant. */
const CLAIM_TEXT =
  'Muon stabilises training at scale, reducing the divergence and loss spikes that AdamW shows in late-stage training of large MoE models.';

const SEEDS = [0, 1, 2, 3, 4];
const STRESS_STEPS = 20;
const TUNE_STEPS = 10;
const INITIAL = 2;
const DETECTORS = ['gradnorm', 'median', 'zscore'];

function spec(tasks: StudySpec['tasks']): StudySpec {
  return {
    name: 'fixture-study',
    description: 'hand-written fixture',
    tasks,
    baseline: 'adamw',
    treatment: 'muon',
    seeds: SEEDS,
    tune: { grid: { adamw: [1e-3, 1e-2, 1e-1], muon: [0.01, 0.05, 0.25] }, steps: TUNE_STEPS },
    stress: { multipliers: [1, 2, 4], steps: STRESS_STEPS },
  };
}
const experiments: ReadonlyMap<string, ExperimentSpec> = new Map([
  ['tiny-mlp', tinyMlp],
  ['tiny-moe', tinyMoe],
]);

/**
 * Tuning results, the same in every fixture. adamw: medians 1, 0.5, and 1e-1 diverged in every
 * seed (counts as ℓ₀ = 2) → tuned 0.01, sensitivity ((1 − 0.5) + 0 + (2 − 0.5))/3 = 2/3.
 * muon: medians 0.8, 0.6, and at 0.25 one seed diverged (→ 2), so median of {0.5, 0.52, 0.55,
 * 0.58, 2} = 0.55: the best score, but not eligible (a seed diverged) → tuned 0.05, best-scoring
 * 0.25; sensitivity ((0.8 − 0.55) + (0.6 − 0.55) + 0)/3 = 0.1.
 */
const TUNING: Record<string, Record<number, (number | null)[]>> = {
  adamw: { 1e-3: [1.0, 0.9, 1.1, 1.05, 0.95], 1e-2: [0.5, 0.45, 0.55, 0.6, 0.4], 1e-1: [null, null, null, null, null] },
  muon: { 0.01: [0.8, 0.7, 0.9, 0.85, 0.75], 0.05: [0.6, 0.55, 0.65, 0.62, 0.58], 0.25: [null, 0.5, 0.52, 0.55, 0.58] },
};
const TUNED: Record<string, number> = { adamw: 0.01, muon: 0.05 };

interface Outcome {
  /** Step at which the run diverged; undefined = finished all steps. */
  readonly divergedAt?: number;
  /** Spike events, the same count for every detector. */
  readonly spikes: number;
  /** Single-step spike events (every detector) flagged in metrics.jsonl at steps 11, 13, …: the last half. */
  readonly lateSpikes?: number;
  /** Final eval loss of a run that did not diverge (default 0.5). */
  readonly evalLoss?: number;
}
type Scenario = (task: string, label: string, multiplier: number, seed: number) => Outcome;

const STABLE: Outcome = { spikes: 1 };

function summaryFor(config: RunConfig, o: { steps: number; diverged: boolean; evalLoss: number | null; spikes: number }): RunSummary {
  return {
    experiment: config.experiment,
    optimizer: config.label,
    optimizerName: config.optimizer.name,
    seed: config.seed,
    lrScale: config.lrScale,
    steps: o.steps,
    plannedSteps: config.steps,
    finalLoss: o.diverged ? null : (o.evalLoss ?? 1),
    minLoss: 0.3,
    initialLoss: INITIAL,
    evalLoss: o.evalLoss,
    spikes: Object.fromEntries(DETECTORS.map((d) => [d, o.spikes])),
    spikeDetails: Object.fromEntries(DETECTORS.map((d) => [d, { events: o.spikes, flaggedSteps: o.spikes, firstStep: o.spikes ? 3 : null }])),
    diverged: o.diverged,
    divergedAtStep: o.diverged ? o.steps : null,
    interrupted: false,
    wallSeconds: 1.5,
    backend: 'wasm',
    configHash: configHash(config),
  };
}

/**
 * Per-step records: loss falls from 1 (NaN at a divergence step, as the loop writes it: null);
 * for MoE runs, MaxVio 0.5 (adamw) / 0.2 (muon) and router max |logit| = step (adamw) / 2 (muon).
 */
function metricsFor(config: RunConfig, steps: number, diverged: boolean, moe: boolean, lateSpikes = 0): string {
  const lines: string[] = [];
  const flagged = new Set(Array.from({ length: lateSpikes }, (_, i) => 11 + 2 * i));
  for (let step = 1; step <= steps; step++) {
    const last = diverged && step === steps;
    lines.push(
      toJSONLine({
        step,
        loss: last ? NaN : 1 - 0.02 * step + 0.01 * config.seed,
        gradNorm: 1,
        updateRms: {},
        lr: 0.01,
        ms: 3,
        ...(moe
          ? { maxVio: config.label === 'adamw' ? 0.5 : 0.2, routerMaxLogit: config.label === 'adamw' ? step : 2, deadExperts: 0 }
          : {}),
        ...(flagged.has(step) ? { spikes: DETECTORS } : {}),
      }),
    );
  }
  return `${lines.join('\n')}\n`;
}

function writeRun(dir: string, config: RunConfig, summary: RunSummary, metrics: string): void {
  ensureDir(dir);
  writeJSONAtomic(join(dir, CONFIG_FILE), { ...config, configHash: configHash(config), backend: 'wasm' });
  writeJSONAtomic(join(dir, SUMMARY_FILE), summary);
  writeFileSync(join(dir, METRICS_FILE), metrics);
}

/** A complete study folder: study.json, every tuning run (TUNING), every stress run (scenario) and, given `arms`, every runnable arm's runs at its multipliers. */
function writeFixture(dir: string, study: StudySpec, scenario: Scenario, arms?: { multipliers: number[]; scenario: Scenario }): void {
  ensureDir(join(dir, RUNS_DIR));
  const file: StudyFile = { spec: study, experiments: Object.fromEntries(experiments) };
  writeJSONAtomic(join(dir, STUDY_FILE), file);
  for (const p of planTuning(study, experiments)) {
    const evalLoss = TUNING[p.label]![p.lr]![p.seed]!;
    const diverged = evalLoss === null;
    const steps = diverged ? 3 : TUNE_STEPS;
    writeRun(join(dir, RUNS_DIR, p.dirName), p.config, summaryFor(p.config, { steps, diverged, evalLoss, spikes: 0 }), metricsFor(p.config, steps, diverged, false));
  }
  for (const task of study.tasks) {
    const moe = experiments.get(task.experiment)!.model.kind === 'moe';
    for (const label of ['adamw', 'muon']) {
      for (const p of planStress(study, experiments, task, label, TUNED[label]!)) {
        const name = `stress__${task.experiment}__${label}__x${p.multiplier}__s${p.seed}`;
        expect(p.dirName).toBe(name);
        const o = scenario(task.experiment, label, p.multiplier, p.seed);
        const diverged = o.divergedAt !== undefined;
        const steps = o.divergedAt ?? STRESS_STEPS;
        const summary = summaryFor(p.config, { steps, diverged, evalLoss: diverged ? null : (o.evalLoss ?? 0.5), spikes: o.spikes });
        writeRun(join(dir, RUNS_DIR, name), p.config, summary, metricsFor(p.config, steps, diverged, moe, o.lateSpikes));
      }
    }
    for (const arm of arms ? runnableArms(task, experiments) : []) {
      for (const label of armLabels(arm, study.baseline, study.treatment)) {
        for (const p of planArm(study, experiments, task, arm, label, { baseline: TUNED['adamw']!, treatment: TUNED['muon']! }, arms!.multipliers)) {
          const o = arms!.scenario(task.experiment, label, p.multiplier, p.seed);
          const diverged = o.divergedAt !== undefined;
          const steps = o.divergedAt ?? STRESS_STEPS;
          const summary = summaryFor(p.config, { steps, diverged, evalLoss: diverged ? null : (o.evalLoss ?? 0.5), spikes: o.spikes });
          writeRun(join(dir, RUNS_DIR, p.dirName), p.config, summary, metricsFor(p.config, steps, diverged, moe, o.lateSpikes));
        }
      }
    }
  }
}

// ---- reading the report back

/** The text from a heading line to the next heading of the same or a higher level. */
function section(text: string, heading: string): string {
  const lines = text.split('\n');
  const start = lines.indexOf(heading);
  expect(start, `heading "${heading}"`).toBeGreaterThanOrEqual(0);
  const level = heading.match(/^#+/)![0].length;
  let end = lines.length;
  for (let i = start + 1; i < lines.length; i++) {
    const m = lines[i]!.match(/^(#+) /);
    if (m && m[1]!.length <= level) {
      end = i;
      break;
    }
  }
  return lines.slice(start, end).join('\n');
}

/** Body rows of the Markdown tables in `text`, cells trimmed and unescaped (header and rule rows dropped). */
function rows(text: string): string[][] {
  const out: string[][] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (!l.startsWith('|') || /^\|[-:|]+\|$/.test(l) || lines[i + 1]?.match(/^\|[-:|]+\|$/)) continue;
    out.push(l.slice(1, -1).split(' | ').map((c) => c.trim().replace(/\\\|/g, '|')));
  }
  return out;
}
const find = (rs: string[][], ...prefix: string[]) => {
  const r = rs.find((row) => prefix.every((p, i) => row[i] === p));
  expect(r, `row starting ${prefix.join(' | ')}`).toBeDefined();
  return r!;
};

const HEADINGS = [
  '# Stability study report: fixture-study',
  '## Protocol',
  '## Tuned learning rates',
  '## LR sensitivity',
  '## Stress test: spikes per 1k steps, divergence and failure',
  '## Time to divergence (Kaplan–Meier)',
  '## Growth of per-step signals over the last half',
  '## Arms',
  '## MoE balance over time',
  '## Representative curves',
  '## Multiplicity',
  '## Claim check',
  '### Claim check v2: sub-claims',
  '### Limits of a small-scale test',
];

/** Verdicts use the family-wise intervals, never the per-endpoint 95% CIs. */
const favoursOf = (c: Comparison): Endpoint['favours'] => (c.adjHi < 0 ? 'treatment' : c.adjLo > 0 ? 'baseline' : null);

/** The checks every fixture's report must pass; returns the text. */
function checkReport(r: StudyResults): string {
  const text = renderReport(r);
  for (const h of HEADINGS) expect(text.split('\n'), h).toContain(h);
  expect(text).toContain(`> ${CLAIM_TEXT}`);
  expect(r.runsFound).toBe(r.runsExpected);
  expect(text).toContain(`- Runs found: ${r.runsExpected} of ${r.runsExpected}.\n`);
  expect(text).toContain('- Backend: wasm.');
  expect(text).toContain('- Seeds: 0, 1, 2, 3, 4 (n = 5)');

  // Tuned LRs and LR sensitivity, as computed by hand in TUNING's comment, for every task.
  const tuned = rows(section(text, '## Tuned learning rates'));
  const sens = rows(section(text, '## LR sensitivity'));
  for (const task of r.spec.tasks.map((t) => t.experiment)) {
    expect(find(tuned, task, 'adamw')).toEqual([task, 'adamw', '0.01', '0.5', 'same', '0.001: 1; 0.01: 0.5; 0.1: 2 (5/5 div)']);
    expect(find(tuned, task, 'muon')).toEqual([
      task,
      'muon',
      '0.05',
      '0.6',
      '0.25: 0.55 (1/5 div, not eligible)',
      '0.01: 0.8; 0.05: 0.6; 0.25: 0.55 (1/5 div)',
    ]);
    expect(find(sens, task, 'adamw')).toEqual([task, 'adamw', '0.6667', '0.5', '2']);
    expect(find(sens, task, 'muon')).toEqual([task, 'muon', '0.1', '0.55', '2']);
    expect(r.tuning[task]!['adamw']!.sensitivity).toBeCloseTo(2 / 3, 12);
    expect(r.tuning[task]!['muon']!.sensitivity).toBeCloseTo(0.1, 12);
    expect(r.tuning[task]!['adamw']!.tunedLr).toBe(0.01);
    expect(r.tuning[task]!['muon']!.tunedLr).toBe(0.05);
    expect(r.tuning[task]!['muon']!.bestScoringLr).toBe(0.25);
    for (const c of r.stress.filter((s) => s.task === task)) {
      expect(c.byLabel['adamw']!.lr).toBeCloseTo(0.01 * c.multiplier, 15);
      expect(c.byLabel['muon']!.lr).toBeCloseTo(0.05 * c.multiplier, 15);
    }
  }
  expect(text).not.toContain('(grid edge)');
  expect(section(text, '## Tuned learning rates')).toContain('Rule: the tuned LR is the grid LR with the best median final eval loss over seeds');

  // The verdict follows from the CIs: each endpoint's side is where its CI lies, and verdictFrom of those.
  for (const e of r.endpoints) expect(e.favours, `${e.task} ${e.multiplier}× ${e.metric}`).toBe(favoursOf(e.comparison));
  expect(r.verdict).toBe(verdictFrom(r.endpoints.map((e) => ({ ...e, favours: favoursOf(e.comparison) }))));
  const word = { supported: 'Supported', contradicted: 'Contradicted', inconclusive: 'Inconclusive' }[r.verdict];
  expect(text).toContain(`Verdict: **${word} at this scale**`);
  expect(text.match(/Verdict: \*\*(\w+)/g)).toHaveLength(1);
  const claim = section(text, '## Claim check');
  expect(claim).toContain(`(${r.endpoints.length} endpoints)`);
  expect(claim).toContain(`- Endpoints favouring muon (family-wise interval below 0): ${r.endpoints.filter((e) => e.favours === 'treatment').length}`);
  expect(claim).toContain(`- Endpoints favouring adamw (family-wise interval above 0): ${r.endpoints.filter((e) => e.favours === 'baseline').length}`);
  expect(claim).toContain(`- Endpoints whose family-wise interval includes 0: ${r.endpoints.filter((e) => e.favours === null).length}`);
  // Family-wise intervals contain the 95% CIs, at confidence 1 − 0.05/m.
  expect(r.familyConfidence).toBeCloseTo(1 - 0.05 / r.endpoints.length, 15);
  for (const e of r.endpoints) {
    expect(e.comparison.adjLo).toBeLessThanOrEqual(e.comparison.lo);
    expect(e.comparison.adjHi).toBeGreaterThanOrEqual(e.comparison.hi);
    expect(e.comparison.pHolm).toBeGreaterThanOrEqual(e.comparison.pValue);
  }
  return text;
}

let root: string;
beforeAll(async () => {
  await initBackend();
  root = tempDir('report');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('report from a fixture where muon is better (supported)', () => {
  let dir: string;
  let r: StudyResults;
  let text: string;
  beforeAll(() => {
    dir = join(root, 'supported');
    // tiny-mlp: nothing differs. tiny-moe: 2× — adamw seeds 0 and 1 diverge with many spikes, the
    // rest as muon; 4× — adamw diverges in every seed (at step 5), muon in none.
    writeFixture(dir, spec([{ experiment: 'tiny-mlp' }, { experiment: 'tiny-moe' }]), (task, label, m, seed) => {
      if (task === 'tiny-mlp' || m === 1) return STABLE;
      if (m === 2) return label === 'adamw' && seed < 2 ? { divergedAt: 8, spikes: 50 } : { spikes: 2 };
      return label === 'adamw' ? { divergedAt: 5, spikes: 0 } : { spikes: 3 };
    });
    r = analyzeStudy(dir);
    text = checkReport(r);
  });

  it('finds every run and reaches verdict "supported" from the one CI below 0', () => {
    expect(r.runsExpected).toBe(2 * 2 * 3 * 5 + 2 * 2 * 3 * 5);
    expect(r.missing).toEqual([]);
    expect(r.verdict).toBe('supported');
    const d4 = r.stress.find((c) => c.task === 'tiny-moe' && c.multiplier === 4)!.divergence!;
    expect([d4.estimate, d4.lo, d4.hi]).toEqual([-1, -1, -1]);
    expect(d4.probTreatmentBetter).toBe(1);
    const favoured = r.endpoints.filter((e) => e.favours !== null);
    // At 4× every adamw run diverged at step 5 (failed, 15 of 20 steps lost, final loss = initial 2) and no muon run did.
    expect(favoured.map((e) => [e.task, e.multiplier, e.metric, e.favours])).toEqual(
      ['divergence rate', 'failure rate', 'steps lost to divergence', 'final eval loss'].map((m) => ['tiny-moe', 4, m, 'treatment']),
    );
    const c4 = r.stress.find((c) => c.task === 'tiny-moe' && c.multiplier === 4)!;
    expect([c4.stepsLost!.estimate, c4.finalEval!.estimate]).toEqual([-15, -1.5]);
    // 2×: 2/5 vs 0/5 diverged — the bootstrap CI reaches 0, so this endpoint decides nothing.
    const d2 = r.stress.find((c) => c.task === 'tiny-moe' && c.multiplier === 2)!.divergence!;
    expect(d2.estimate).toBeCloseTo(-0.4, 12);
    expect(d2.hi).toBe(0);
    expect(text).toContain('Verdict: **Supported at this scale**');
    expect(text).toContain('  - tiny-moe at 4×, divergence rate: Δ = -1 [-1, -1], family-wise [-1, -1], P(muon better) = 1, p = ');
  });

  it('compares spike rates over runs that did not diverge only', () => {
    const c2 = r.stress.find((c) => c.task === 'tiny-moe' && c.multiplier === 2)!;
    // adamw's 2 diverged runs (50 spikes in 8 steps) are left out: 3 runs at 2/20 steps = 100/1k.
    for (const d of DETECTORS) {
      expect(c2.byLabel['adamw']!.spikesPer1k[d]).toMatchObject({ n: 3, median: 100, mean: 100 });
      expect(c2.byLabel['muon']!.spikesPer1k[d]).toMatchObject({ n: 5, median: 100 });
      expect(c2.spikes[d]).toMatchObject({ estimate: 0, lo: 0, hi: 0, nBaseline: 3, nTreatment: 5 });
    }
    // 4×: no adamw run survived, so there is no spike comparison at all (only divergence).
    const c4 = r.stress.find((c) => c.task === 'tiny-moe' && c.multiplier === 4)!;
    expect(c4.spikes).toEqual({});
    expect(c4.byLabel['adamw']!.spikesPer1k).toEqual({});
    const rates = ['divergence rate', 'failure rate', 'steps lost to divergence', 'final eval loss'];
    expect(r.endpoints.filter((e) => e.task === 'tiny-moe' && e.multiplier === 4).map((e) => e.metric)).toEqual(rates);
    // tiny-mlp (3 multipliers) + tiny-moe 1× and 2×: 4 rates + 3 detectors × (whole run, last half) each; tiny-moe 4×: the rates only.
    expect(r.endpoints).toHaveLength(5 * 10 + 4);

    const stress = rows(section(text, '### tiny-moe'));
    expect(find(stress, '2×', 'spikes/1k (median)')).toEqual(['2×', 'spikes/1k (median)', '100 [100–100] (n=3)', '100 [100–100] (n=5)', '0 [0, 0]', '[0, 0]', '0.5', '1', '1']);
    expect(find(stress, '4×', 'divergence rate').slice(0, 7)).toEqual(['4×', 'divergence rate', '1 (5/5)', '0 (0/5)', '-1 [-1, -1]', '[-1, -1]', '1']);
    expect(find(stress, '4×', 'failure rate').slice(0, 6)).toEqual(['4×', 'failure rate', '1 (5/5)', '0 (0/5)', '-1 [-1, -1]', '[-1, -1]']);
    expect(find(stress, '4×', 'spikes/1k (zscore)')).toEqual(['4×', 'spikes/1k (zscore)', '— (all diverged)', '150 [150–150] (n=5)', '—', '—', '—', '—', '—']);
    expect(find(stress, '4×', 'final eval loss').slice(0, 6)).toEqual(['4×', 'final eval loss', '—', '0.5 [0.5–0.5]', '-1.5 [-1.5, -1.5]', '[-1.5, -1.5]']);
    expect(find(stress, '2×', 'divergence rate').slice(0, 4)).toEqual(['2×', 'divergence rate', '0.4 (2/5)', '0 (0/5)']);
  });

  it('shows MoE balance over time for the MoE task only', () => {
    const balance = section(text, '## MoE balance over time');
    expect(balance).toContain('### tiny-moe');
    expect(balance).not.toContain('### tiny-mlp');
    expect(Object.keys(r.balance)).toEqual(['tiny-moe']);
    const b = rows(balance);
    // adamw's router max |logit| = step: tenths of 20 steps average to 1.5, 3.5, …, 19.5; growth 19.5/1.5 = 13.
    const tenths = Array.from({ length: 10 }, (_, i) => String(2 * i + 1.5));
    expect(find(b, 'adamw', '1×', 'router max |logit|')).toEqual(['adamw', '1×', 'router max |logit|', ...tenths, '13']);
    expect(find(b, 'adamw', '1×', 'MaxVio')).toEqual(['adamw', '1×', 'MaxVio', ...Array(10).fill('0.5'), '']);
    expect(find(b, 'muon', '4×', 'router max |logit|')).toEqual(['muon', '4×', 'router max |logit|', ...Array(10).fill('2'), '1']);
    // adamw at 4× diverged at step 5 in every seed: the later tenths are empty.
    expect(find(b, 'adamw', '4×', 'router max |logit|')).toEqual(['adamw', '4×', 'router max |logit|', '1.5', '3.5', '5', ...Array(7).fill('—'), '—']);
    expect(r.balance['tiny-moe']!['adamw']!['1']!.logitGrowth).toBe(13);
  });

  it('draws representative curves at 1× and the largest multiplier', () => {
    const curves = section(text, '## Representative curves');
    for (const task of ['tiny-mlp', 'tiny-moe']) {
      expect(curves).toContain(`${task} at 1× tuned LR`);
      expect(curves).toContain(`${task} at 4× tuned LR`);
      expect(curves).not.toContain(`${task} at 2× tuned LR`);
    }
    expect(curves).toContain('5 seeds, 5 diverged');
    expect(r.curves['tiny-moe']!['4']!['adamw']).toMatchObject({ diverged: 5, n: 5 });
    // Diverged at step 5: its loss is finite up to step 4 (one value per step at this horizon).
    expect(r.curves['tiny-moe']!['4']!['adamw']!.values).toHaveLength(4);
  });

  it('is deterministic, and the CLI `report` command writes the same text to REPORT.md, plus its figures', async () => {
    expect(renderReport(analyzeStudy(dir))).toBe(text);
    const logged: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void logged.push(a.map(String).join(' ')));
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void errors.push(a.map(String).join(' ')));
    expect(await main(['report', dir])).toBe(0);
    const path = join(dir, 'REPORT.md');
    expect(existsSync(path)).toBe(true);
    // The CLI adds the figures section (test/figures covers its content) before the claim check.
    const written = readFileSync(path, 'utf8');
    expect(written).toBe(renderReport(r, figuresMarkdown(studyFigures(r))));
    expect(written.replace(/## Figures\n[\s\S]*?(?=## Claim check)/, '')).toBe(text);
    expect(logged).toEqual([written]);
    expect(errors).toEqual([`written: ${path}, ${join(dir, 'report.html')} and ${studyFigures(r).length} figures in ${join(dir, 'figures')}`]);
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

describe('report verdicts from other fixtures', () => {
  it('adamw better (muon diverges at 4×, adamw never): contradicted', () => {
    const dir = join(root, 'contradicted');
    writeFixture(dir, spec([{ experiment: 'tiny-moe' }]), (_task, label, m) =>
      m === 4 && label === 'muon' ? { divergedAt: 6, spikes: 0 } : STABLE,
    );
    const r = analyzeStudy(dir);
    const text = checkReport(r);
    expect(r.verdict).toBe('contradicted');
    const d4 = r.stress.find((c) => c.multiplier === 4)!.divergence!;
    expect([d4.estimate, d4.lo, d4.hi]).toEqual([1, 1, 1]);
    expect(d4.probTreatmentBetter).toBe(0);
    expect(text).toContain('Verdict: **Contradicted at this scale**');
    expect(text).toContain('- Endpoints favouring adamw (family-wise interval above 0): 4\n  - tiny-moe at 4×, divergence rate: Δ = 1 [1, 1], family-wise [1, 1]');
  });

  it('everything equal: inconclusive, every CI includes 0; an MLP-only study has no balance section body', () => {
    const dir = join(root, 'inconclusive');
    writeFixture(dir, spec([{ experiment: 'tiny-mlp' }]), () => STABLE);
    const r = analyzeStudy(dir);
    const text = checkReport(r);
    expect(r.verdict).toBe('inconclusive');
    expect(r.endpoints).toHaveLength(3 * 10);
    for (const e of r.endpoints) expect([e.comparison.estimate, e.comparison.lo, e.comparison.hi, e.comparison.probTreatmentBetter]).toEqual([0, 0, 0, 0.5]);
    expect(text).toContain("Verdict: **Inconclusive at this scale**: every endpoint's family-wise interval includes 0.");
    expect(section(text, '## MoE balance over time')).toContain('No MoE task in this study.');
    expect(r.balance).toEqual({});
  });

  it('endpoints on both sides: inconclusive, saying so', () => {
    const dir = join(root, 'mixed');
    // 4×: adamw diverges everywhere (favours muon); 1×: muon has 5 spikes per run, adamw none (favours adamw).
    writeFixture(dir, spec([{ experiment: 'tiny-moe' }]), (_task, label, m) => {
      if (m === 4) return label === 'adamw' ? { divergedAt: 5, spikes: 0 } : STABLE;
      if (m === 1) return { spikes: label === 'muon' ? 5 : 0 };
      return STABLE;
    });
    const r = analyzeStudy(dir);
    const text = checkReport(r);
    expect(r.verdict).toBe('inconclusive');
    expect(r.endpoints.filter((e) => e.favours === 'treatment').map((e) => `${e.multiplier} ${e.metric}`)).toEqual(
      ['divergence rate', 'failure rate', 'steps lost to divergence', 'final eval loss'].map((m) => `4 ${m}`),
    );
    expect(r.endpoints.filter((e) => e.favours === 'baseline').map((e) => `${e.multiplier} ${e.metric}`)).toEqual(
      DETECTORS.map((d) => `1 spikes/1k (${d})`),
    );
    expect(text).toContain('Verdict: **Inconclusive at this scale**: some endpoints favour muon and others adamw.');
    expect(text).toContain('  - tiny-moe at 1×, spikes/1k (median): Δ = 250 [250, 250], family-wise [250, 250], P(muon better) = 0');
  });

  it('reports missing runs and uses what is there', () => {
    const dir = join(root, 'missing');
    cpSync(join(root, 'contradicted'), dir, { recursive: true });
    const gone = 'stress__tiny-moe__muon__x2__s3';
    rmSync(join(dir, RUNS_DIR, gone, SUMMARY_FILE));
    const r = analyzeStudy(dir);
    expect(r.missing).toEqual([gone]);
    expect(r.runsFound).toBe(r.runsExpected - 1);
    expect(r.stress.find((c) => c.multiplier === 2)!.divergence!.nTreatment).toBe(4);
    expect(renderReport(r)).toContain(`- Runs found: ${r.runsExpected - 1} of ${r.runsExpected}. **Missing 1** (first: ${gone})`);
  });

  it('the CLI `report` refuses a folder that is not a study, and a missing folder, with status 2', async () => {
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void errors.push(a.map(String).join(' ')));
    vi.spyOn(console, 'log').mockImplementation(() => {});
    expect(await main(['report', join(root, 'no-such-folder')])).toBe(2);
    expect(errors.at(-1)).toMatch(/^error: .*no-such-folder: no such folder$/);
    const empty = join(root, 'not-a-study');
    ensureDir(empty);
    expect(await main(['report', empty])).toBe(2);
    expect(errors.at(-1)).toMatch(/^error: .*not-a-study: no study\.json; is this a study folder\?$/);
    expect(existsSync(join(empty, 'REPORT.md'))).toBe(false);
  });
});

describe('verdictFrom', () => {
  const c: Comparison = { estimate: 0, lo: 0, hi: 0, adjLo: 0, adjHi: 0, probTreatmentBetter: 0.5, pValue: 1, pHolm: 1, nBaseline: 5, nTreatment: 5 };
  const e = (favours: Endpoint['favours']): Endpoint => ({ task: 't', multiplier: 1, arm: 'none', metric: 'm', comparison: c, favours });

  it('supported iff some endpoint favours the treatment and none the baseline; contradicted the reverse', () => {
    expect(verdictFrom([])).toBe('inconclusive');
    expect(verdictFrom([e(null), e(null)])).toBe('inconclusive');
    expect(verdictFrom([e('treatment')])).toBe('supported');
    expect(verdictFrom([e(null), e('treatment'), e(null), e('treatment')])).toBe('supported');
    expect(verdictFrom([e('baseline')])).toBe('contradicted');
    expect(verdictFrom([e('baseline'), e(null)])).toBe('contradicted');
    expect(verdictFrom([e('treatment'), e('baseline')])).toBe('inconclusive');
    expect(verdictFrom([e(null), e('baseline'), e('treatment')])).toBe('inconclusive');
  });
});

describe('claim check v2 from a fixture with the roles mapped to the fixture tasks', () => {
  let r: StudyResults;
  let text: string;
  beforeAll(() => {
    const dir = join(root, 'v2');
    const study: StudySpec = {
      ...spec([{ experiment: 'tiny-moe', arms: ['muon-match-rms', 'qkNorm', 'bf16'] }, { experiment: 'tiny-mlp' }]),
      failureLossFactor: 2,
      claimTasks: { moe: 'tiny-moe', dense: 'tiny-mlp' },
    };
    // tiny-moe: 1× adamw has 3 spike events, all in the last half (muon none); 2× two muon runs end at
    // eval loss 1.2 ≥ 2 × the best tuned 0.5 (failed, not diverged); 4× every adamw run diverges at step 5.
    // So adamw first fails at 4×, muon never (2/5 < half): the arms run at 4×. tiny-mlp: nothing differs.
    writeFixture(
      dir,
      study,
      (task, label, m, seed) => {
        if (task === 'tiny-mlp') return STABLE;
        if (m === 1) return label === 'adamw' ? { spikes: 3, lateSpikes: 3 } : { spikes: 0 };
        if (m === 2) return label === 'muon' && seed < 2 ? { spikes: 1, evalLoss: 1.2 } : STABLE;
        if (m === 4) return label === 'adamw' ? { divergedAt: 5, spikes: 0 } : STABLE;
        return STABLE;
      },
      { multipliers: [4], scenario: () => ({ spikes: 0 }) },
    );
    r = analyzeStudy(dir);
    text = checkReport(r);
  });

  it('places the arms where adamw first fails (4×), finds their runs, and reports the others as not run', () => {
    expect(r.missing).toEqual([]);
    // muon-match-rms: muon only; bf16: both optimizers.
    expect(r.runsExpected).toBe(2 * 2 * 3 * 5 + 2 * 2 * 3 * 5 + 5 + 2 * 5);
    expect(r.arms.map((a) => [a.arm, a.multipliers, a.needs ?? null])).toEqual([
      ['muon-match-rms', [4], null],
      ['qkNorm', [], 'attention: a transformer task'],
      ['bf16', [4], null],
    ]);
    const bf16 = r.armCells.find((c) => c.arm === 'bf16')!;
    expect(bf16.byLabel['adamw']).toMatchObject({ n: 5, diverged: 0, lr: 0.01 * 4 });
    expect(r.arms[0]!.firstFailure).toEqual({ adamw: 4, muon: null });
    const arms = rows(section(text, '## Arms'));
    expect(find(arms, 'tiny-moe', 'muon-match-rms')[4]).toBe('run');
    expect(find(arms, 'tiny-moe', 'muon-match-rms')[5]).toBe('4× (adamw first fails at 4×, muon first fails at none)');
    expect(find(arms, 'tiny-moe', 'qkNorm')[4]).toBe('not run in this study (needs attention: a transformer task)');
    // The match-rms arm: muon (arm) vs adamw's stress runs at 4× (every one diverged).
    const cell = r.armCells.find((c) => c.arm === 'muon-match-rms')!;
    expect(cell.multiplier).toBe(4);
    expect(cell.byLabel['adamw']).toMatchObject({ n: 5, diverged: 5 });
    expect(cell.byLabel['muon']).toMatchObject({ n: 5, diverged: 0, lr: 0.01 * 4 });
    expect(find(rows(section(text, '### tiny-moe: muon-match-rms')), '4×', 'divergence rate').slice(2, 6)).toEqual(['1 (5/5)', '0 (0/5)', '-1 [-1, -1]', '[-1, -1]']);
  });

  it('counts late spikes from the metrics, failures by loss, and both in the tables', () => {
    const c1 = r.stress.find((c) => c.task === 'tiny-moe' && c.multiplier === 1)!;
    // 3 single-step events at steps 11, 13, 15 of 20: 3 per 10 late steps = 300/1k; whole run 3/20 = 150/1k.
    expect(c1.byLabel['adamw']!.lateSpikesPer1k['median']).toMatchObject({ median: 300, n: 5 });
    expect(c1.byLabel['muon']!.lateSpikesPer1k['median']).toMatchObject({ median: 0, n: 5 });
    expect(c1.lateSpikes['zscore']).toMatchObject({ estimate: -300, adjLo: -300, adjHi: -300 });
    expect(c1.spikes['zscore']).toMatchObject({ estimate: -150 });
    const c2 = r.stress.find((c) => c.task === 'tiny-moe' && c.multiplier === 2)!;
    expect(c2.byLabel['muon']).toMatchObject({ failed: 2, diverged: 0, failureReasons: { 'k× best tuned': 2 } });
    expect(c2.failure!.estimate).toBeCloseTo(0.4, 12);
    expect(c2.failure!.adjLo).toBeLessThanOrEqual(0); // 2/5 vs 0/5 decides nothing
    expect(find(rows(section(text, '### tiny-moe')), '2×', 'failure rate')[3]).toBe('0.4 (2/5) [2 k× best tuned]');
    expect(r.bestTunedLoss['tiny-moe']).toBe(0.5);
    expect(text).toContain('k = 2.');
  });

  it('time to divergence: Kaplan–Meier medians and the log-rank test (χ² = 9 by hand)', () => {
    const s4 = r.stress.find((c) => c.task === 'tiny-moe' && c.multiplier === 4)!.survival!;
    expect(s4.byLabel['adamw']).toMatchObject({ n: 5, events: 5, median: 5 });
    expect(s4.byLabel['muon']).toMatchObject({ n: 5, events: 0, median: null });
    // At t = 5: 10 at risk, 5 adamw, 5 events: E = 2.5, V = 5·½·½·5/9; χ² = 2.5²/V = 9.
    expect(s4.logRank.chiSquare).toBeCloseTo(9, 12);
    expect(s4.logRank.pHolm).toBeGreaterThanOrEqual(s4.logRank.pValue);
    const km = rows(section(text, '## Time to divergence (Kaplan–Meier)'));
    expect(find(km, 'tiny-moe', 'none', '4×').slice(3, 10)).toEqual(['5/5', '5', '0', '0/5', 'not reached', '1', '9']);
  });

  it('growth of the router logit over the last half: ln(step) for adamw, flat for muon', () => {
    // OLS slope of ln(step) on step over steps 11..20, by hand.
    const xs = Array.from({ length: 10 }, (_, i) => 11 + i);
    const mx = xs.reduce((a, b) => a + b, 0) / 10;
    const ys = xs.map(Math.log);
    const my = ys.reduce((a, b) => a + b, 0) / 10;
    const slope = xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
    const row = (label: string, m: number, signal: string, arm = 'none') =>
      r.growth.find((g) => g.task === 'tiny-moe' && g.label === label && g.multiplier === m && g.signal === signal && g.arm === arm)!;
    expect(row('adamw', 1, 'routerMaxLogit').slopePer1k!.median).toBeCloseTo(1000 * slope, 9);
    expect(row('muon', 1, 'routerMaxLogit').slopePer1k!.median).toBe(0);
    expect(row('adamw', 1, 'gradNorm').slopePer1k!.median).toBe(0);
    expect(row('adamw', 4, 'routerMaxLogit')).toMatchObject({ runs: 0, slopePer1k: null }); // diverged at step 5
    expect(row('muon', 4, 'routerMaxLogit', 'muon-match-rms').runs).toBe(5);
    // The MLP records no router: its only signal is the grad norm.
    expect(new Set(r.growth.filter((g) => g.task === 'tiny-mlp').map((g) => g.signal))).toEqual(new Set(['gradNorm']));
    const table = rows(section(text, '## Growth of per-step signals over the last half'));
    expect(find(table, 'tiny-moe', 'routerMaxLogit', 'none', 'adamw', '1×')[5]).toBe(`${formatNumber(1000 * slope)} [${formatNumber(1000 * slope)}–${formatNumber(1000 * slope)}]`);
    // Cells where every run diverged before its last half have no row.
    expect(table.some((row) => row[0] === 'tiny-moe' && row[2] === 'none' && row[3] === 'adamw' && row[4] === '4×')).toBe(false);
  });

  it('sub-claims: (a) supported, (b) inconclusive, (c) supported, (d) (e) not run, (f) inconclusive; overall follows', () => {
    const claims = section(text, '### Claim check v2: sub-claims');
    expect(claims).toMatch(/- \(a\) fewer late-stage spikes for muon on the MoE LM \(tiny-moe\) at the tuned LR: \*\*supported\*\* — 3 endpoints, 3 favour muon, 0 favour adamw/);
    expect(claims).toMatch(/- \(b\) the same at 2× and 4× the tuned LR: \*\*inconclusive\*\* — 3 endpoints, 0 favour muon/);
    expect(claims).toMatch(/- \(c\) later or no divergence .*: \*\*supported\*\* — 9 endpoints, 3 favour muon, 0 favour adamw/);
    expect(claims).toContain(
      '- (d) (a)–(c) still hold with the mitigations (qkNorm, zLoss, qkClip), at the multipliers where either optimizer first fails: not run in this study (needs arm qkNorm: attention: a transformer task; arm zLoss: attention: a transformer task; arm qkClip: attention: a transformer task)',
    );
    // bf16 ran at 4× with nothing differing: 3 late-spike and 3 rate endpoints, none deciding.
    expect(claims).toContain('- (e) (a)–(c) still hold in low precision (bf16, fp4): **inconclusive** — 6 endpoints, 0 favour muon, 0 favour adamw');
    expect(claims).toContain('In low precision it is not established: (e) inconclusive.');
    expect(claims).toMatch(/- \(f\) the same on the dense LM \(tiny-mlp\): is it about MoE at all\?: \*\*inconclusive\*\* — 18 endpoints, 0 favour muon, 0 favour adamw/);
    expect(claims).toContain('Overall: **Supported in its own setting at this scale**: (a) supported, (b) inconclusive, (c) supported;');
    expect(claims).toContain('With the mitigations it was not tested: (d) not run in this study');
    expect(claims).toContain('The dense LM does not show the same ((f) inconclusive), so what (a), (c) found may be specific to MoE.');
  });

  it('multiplicity: Holm over every endpoint and log-rank test; the family-wise level is 1 − 0.05/m', () => {
    const m = r.endpoints.length;
    expect(text).toContain(`- Endpoints: ${m}; log-rank tests: ${r.stress.length + r.armCells.length}.`);
    expect(text).toContain(`family-wise ${Number((100 * (1 - 0.05 / m)).toPrecision(4))}%`);
    // A p of 1 stays 1; every Holm p is at least its raw p and at most m+tests times it.
    for (const e of r.endpoints) expect(e.comparison.pHolm).toBeLessThanOrEqual(Math.min(1, e.comparison.pValue * (m + 8)) + 1e-12);
  });
});
