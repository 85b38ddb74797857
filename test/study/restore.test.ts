/**
 * A study carried across sittings through its bundle: run part of a tiny study (stopped inside a
 * ladder rung, one run cut short), publish it, restore the bundle into a new folder, finish the
 * study there. Every restored run is skipped (the phases' counts, and the restored files untouched),
 * the ladder climbs on from the restored rungs, and the runs and the report equal those of the
 * same study run in one go. Also: the partial report says it is unfinished; the restored folder
 * reads as the bundle and publishes back to the same bundle data; restoring twice changes nothing;
 * another study's folder, a non-study folder and a non-bundle are refused with one line.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { cli } from './cli.js';
import { analyzeStudy } from '../../src/study/analyze.js';
import { BUNDLE_FILE, BUNDLE_RUNS_FILE, loadBundle } from '../../src/study/bundle.js';
import { DIGEST_FILE } from '../../src/study/bundle_files.js';
import { loadStudy } from '../../src/study/collect.js';
import { stopSignal } from '../../src/study/pool.js';
import type { StudySpec } from '../../src/study/protocol.js';
import { renderReport } from '../../src/study/report.js';
import { restoreBundle } from '../../src/study/restore.js';
import { assertSameStudy, RUNS_DIR, runStudy, STUDY_FILE, type StudyProgress } from '../../src/study/study.js';
import type { ExperimentSpec } from '../../src/train/config.js';
import type { RunSummary } from '../../src/train/run.js';
import { CONFIG_FILE, METRICS_FILE, readJSON, SUMMARY_FILE } from '../../src/train/run_files.js';
import { tempDir, tinyLm, tinyMlp } from '../train/fixtures.js';

/** Every phase: tuning, stress and long horizon, a ladder (tiny-mlp, cap 4), an arm placed by it. */
const spec: StudySpec = {
  name: 'restore-tiny',
  description: 'test fixture',
  tasks: [
    { experiment: 'tiny-mlp', model: { kind: 'mlp', hidden: [8], activation: 'relu' }, arms: ['wsd'] },
    { experiment: 'tiny-lm', multipliers: [1], stressSteps: 8, tuneSteps: 6 },
  ],
  baseline: 'adamw',
  treatment: 'muon',
  seeds: [0, 1],
  tune: { grid: { adamw: [1e-3, 1e-2], muon: [0.01, 0.05] }, steps: 5 },
  stress: { multipliers: [1], steps: 6, ladder: { cap: 4 } },
  batchSize: 16,
  failureProgressShare: 0.5,
  long: { tasks: ['tiny-lm'], multipliers: [1], seeds: [0], tokensPerActiveParam: 0.02 },
};
const experiments: ReadonlyMap<string, ExperimentSpec> = new Map([
  ['tiny-mlp', tinyMlp],
  ['tiny-lm', tinyLm],
]);

type PhaseCount = [phase: string, runs: number, skipped: number];

let root: string;
let single: string;
let part: string;
let bundle: string;
let resumed: string;
let singlePhases: PhaseCount[];
/** The restored folder's files as restore wrote them: path → [bytes, mtime]. */
let restoredFiles: Map<string, [Buffer, number]>;

const names = (dir: string) => (existsSync(join(dir, RUNS_DIR)) ? readdirSync(join(dir, RUNS_DIR)).sort() : []);
const finished = (dir: string) => names(dir).filter((n) => existsSync(join(dir, RUNS_DIR, n, SUMMARY_FILE)));
const summary = (dir: string, name: string) => {
  const { wallSeconds: _w, ...rest } = readJSON<RunSummary>(join(dir, RUNS_DIR, name, SUMMARY_FILE));
  return rest;
};
const report = (dir: string) => renderReport(analyzeStudy(dir), '');

function filesUnder(dir: string): Map<string, [Buffer, number]> {
  const out = new Map<string, [Buffer, number]>();
  const visit = (abs: string) => {
    if (statSync(abs).isDirectory()) for (const e of readdirSync(abs).sort()) visit(join(abs, e));
    else out.set(abs, [readFileSync(abs), statSync(abs).mtimeMs]);
  };
  visit(dir);
  return out;
}

const phaseEvents = (into: PhaseCount[]): StudyProgress => ({ onPhase: (phase, runs, skipped) => void into.push([phase, runs, skipped]) });

beforeAll(async () => {
  await initBackend();
  root = tempDir('restore');
  single = join(root, 'single');
  part = join(root, 'part');
  bundle = join(root, 'results', 'part');
  resumed = join(root, 'resumed');
  singlePhases = [];
  await runStudy(spec, experiments, single, { workers: 1, events: phaseEvents(singlePhases) });
  // The partial study: stopped in the ladder's first round, its third run cut short at step 3 (as
  // Ctrl-C or the end of a sitting would), so one rung is half done and one run unfinished.
  let inLadder = false;
  let ladderRuns = 0;
  try {
    await runStudy(spec, experiments, part, {
      workers: 1,
      events: {
        onPhase: (phase) => void (inLadder = phase.startsWith('ladder')),
        onStart: () => void (inLadder && ladderRuns++),
        onProgress: (_i, step) => {
          if (inLadder && ladderRuns === 3 && step === 3) stopSignal.requested = true;
        },
      },
    });
  } finally {
    stopSignal.requested = false;
  }
  expect((await cli(['publish', part, '--out', bundle])).status).toBe(0);
  const r = await cli(['restore', bundle, '--out', resumed]);
  expect(r.status).toBe(0);
  expect(r.errors.join('\n')).toMatch(/restored .* study restore-tiny, \d+ runs written in [\d.]+ s\nresume: .* --out .* --backend \w+; restored runs are skipped/);
  restoredFiles = filesUnder(resumed);
}, 120_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

describe('a finished study, published', () => {
  it('keeps each long-horizon run’s digest (its late spike flags, growth fits): what (a) and the long-horizon section read', async () => {
    const out = join(root, 'results', 'single');
    expect((await cli(['publish', single, '--out', out])).status).toBe(0);
    const fromBundle = loadBundle(out);
    const fromFolder = loadStudy(single);
    const long = [...fromFolder.runs.keys()].filter((n) => n.startsWith('long__'));
    expect(long.length).toBeGreaterThan(0);
    for (const name of long) {
      const digest = fromFolder.runs.get(name)!.digest!;
      expect(digest.lastStep).toBe(fromFolder.runs.get(name)!.summary.steps);
      expect(fromBundle.runs.get(name)!.digest).toEqual(digest);
    }
    expect(report(out)).toBe(report(single));
  });
});

describe('a partial study, published', () => {
  it('stopped inside the ladder: one run unfinished, left out of the bundle; its report says what is unfinished', () => {
    const all = names(part);
    const done = finished(part);
    expect(all.length - done.length).toBe(1);
    const cut = all.find((n) => !done.includes(n))!;
    expect(cut).toMatch(/^stress__tiny-mlp__.*__x2__/);
    expect([...loadBundle(bundle).runs.keys()].sort()).toEqual(done);
    const text = readFileSync(join(bundle, 'REPORT.md'), 'utf8');
    expect(text.split('\n')[2]).toBe(
      `**Unfinished study**: ${done.length} runs found; phases not finished: ladder (2 runs missing; tiny-mlp next at 2×), arms (placed where the stress runs first fail, once those are finished). Every number below is from the runs found so far. To finish it, run the study command again on its folder (on a published bundle: restore it into a folder first, docs/study.md).`,
    );
    // The study run in one go is finished: no such note.
    expect(report(single)).not.toContain('Unfinished study');
  });

  it('names each unfinished phase, in run order, with its missing runs', () => {
    /** `single` less the runs whose names match `drop`: its unfinished phases. */
    const without = (label: string, drop: RegExp) => {
      const dir = join(root, `unfinished-${label}`);
      cpSync(single, dir, { recursive: true });
      for (const n of names(dir).filter((x) => drop.test(x))) rmSync(join(dir, RUNS_DIR, n), { recursive: true });
      return analyzeStudy(dir).unfinished;
    };
    const arms = names(single).filter((n) => n.startsWith('arm__')).length;
    expect(without('arms', /^arm__/)).toEqual([{ phase: 'arms', missing: arms }]);
    expect(without('long', /^long__/)).toEqual([{ phase: 'long horizon', missing: 2 }]);
    // Rung 4× gone: the ladder's rule asks for it again; the arms wait for the ladder.
    expect(without('rung', /^stress__tiny-mlp__.*__x4__|^arm__/)).toEqual([
      { phase: 'ladder', missing: 0, next: { 'tiny-mlp': 4 } },
      { phase: 'arms', missing: null },
    ]);
    // Only tuning: every first-rung and fixed stress run is missing (2 tasks × 2 optimizers × 2 seeds).
    expect(without('tuned', /^(stress|long|arm)__/)).toEqual([
      { phase: 'stress', missing: 8 },
      { phase: 'long horizon', missing: 2 },
      { phase: 'arms', missing: null },
    ]);
    expect(without('empty', /./)[0]).toEqual({ phase: 'tuning', missing: names(single).filter((n) => n.startsWith('tune__')).length });
  });
});

describe('restore', () => {
  it('writes study.json and each bundled run’s summary.json byte for byte, digest.json where the bundle has a digest', () => {
    expect(readFileSync(join(resumed, STUDY_FILE)).equals(readFileSync(join(part, STUDY_FILE)))).toBe(true);
    const bundled = loadBundle(bundle).runs;
    expect(names(resumed)).toEqual([...bundled.keys()].sort());
    for (const [name, run] of bundled) {
      const dir = join(resumed, RUNS_DIR, name);
      expect(readFileSync(join(dir, SUMMARY_FILE)).equals(readFileSync(join(part, RUNS_DIR, name, SUMMARY_FILE))), name).toBe(true);
      expect(existsSync(join(dir, DIGEST_FILE)), name).toBe(run.digest !== undefined);
      expect(existsSync(join(dir, METRICS_FILE)), name).toBe(false);
      expect(existsSync(join(dir, CONFIG_FILE))).toBe(false);
    }
    // Stress and arm runs carry digests; tuning runs do not.
    expect(names(resumed).filter((n) => existsSync(join(resumed, RUNS_DIR, n, DIGEST_FILE))).some((n) => n.startsWith('stress__'))).toBe(true);
    expect(names(resumed).filter((n) => n.startsWith('tune__')).every((n) => !existsSync(join(resumed, RUNS_DIR, n, DIGEST_FILE)))).toBe(true);
  });

  it('the restored folder reads as the bundle, and publishes back to the same bundle data', async () => {
    expect(report(resumed)).toBe(renderReport(analyzeStudy(bundle), ''));
    const again = join(root, 'results', 'again');
    expect((await cli(['publish', resumed, '--out', again])).status).toBe(0);
    for (const f of [BUNDLE_FILE, BUNDLE_RUNS_FILE]) expect(readFileSync(join(again, f)).equals(readFileSync(join(bundle, f))), f).toBe(true);
  });

  it('restoring twice writes nothing', () => {
    const warnings: string[] = [];
    const r = restoreBundle(bundle, resumed, (l) => warnings.push(l));
    expect(r).toEqual({ study: 'restore-tiny', restored: 0, kept: loadBundle(bundle).runs.size, backends: r.backends });
    expect(warnings).toEqual([]);
    const now = filesUnder(resumed);
    expect([...now.keys()]).toEqual([...restoredFiles.keys()]);
    for (const [path, [bytes, mtime]] of restoredFiles) expect([now.get(path)![0].equals(bytes), now.get(path)![1]], path).toEqual([true, mtime]);
  });

  it('replaces an unfinished run in the folder by the bundle’s finished one', () => {
    const dir = join(root, 'over-unfinished');
    const name = [...loadBundle(bundle).runs.keys()].find((n) => n.startsWith('stress__'))!;
    mkdirSync(join(dir, RUNS_DIR, name), { recursive: true });
    cpSync(join(part, STUDY_FILE), join(dir, STUDY_FILE));
    writeFileSync(join(dir, RUNS_DIR, name, 'checkpoint.bin'), 'left by a killed run');
    writeFileSync(join(dir, RUNS_DIR, name, METRICS_FILE), '{"step":1}\n');
    const r = restoreBundle(bundle, dir);
    expect(r.kept).toBe(0);
    expect(readdirSync(join(dir, RUNS_DIR, name)).sort()).toEqual([DIGEST_FILE, SUMMARY_FILE]);
    expect(readFileSync(join(dir, RUNS_DIR, name, SUMMARY_FILE)).equals(readFileSync(join(part, RUNS_DIR, name, SUMMARY_FILE)))).toBe(true);
  });
});

describe('refusals, one line each, nothing written', () => {
  it('a folder holding another study', async () => {
    const other = join(root, 'other');
    mkdirSync(other);
    assertSameStudy(other, { spec: { ...spec, name: 'another' }, experiments: Object.fromEntries(experiments) });
    const before = readdirSync(other);
    const { status, errors } = await cli(['restore', bundle, '--out', other]);
    expect(status).toBe(2);
    expect(errors).toEqual([`error: ${other} holds a different study (study.json differs); use a new --out folder`]);
    expect(readdirSync(other)).toEqual(before);
  });

  it('a non-empty folder that is not a study, a bundle as the target, a source that is not a bundle', async () => {
    const stray = join(root, 'stray');
    mkdirSync(stray);
    writeFileSync(join(stray, 'notes.txt'), 'mine');
    const cases: [string[], RegExp][] = [
      [['restore', bundle, '--out', stray], /stray: exists and is not a study folder \(no study\.json\); choose an empty or new folder$/],
      [['restore', bundle, '--out', join(root, 'results', 'again')], /again: is a results bundle, not a study folder/],
      [['restore', part, '--out', join(root, 'new')], /part: not a results bundle \(no bundle\.json\)/],
      [['restore', bundle, '--out', bundle], /must differ from the bundle folder$/],
    ];
    for (const [args, line] of cases) {
      const { status, errors } = await cli(args);
      expect(status, args.join(' ')).toBe(2);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(line);
    }
    expect(readdirSync(stray)).toEqual(['notes.txt']);
    expect(existsSync(join(root, 'new'))).toBe(false);
  });
});

describe('view and sample on restored runs', () => {
  it('say in one line that a restored run has no records to draw, and name the report', async () => {
    const run = join(resumed, RUNS_DIR, names(resumed).find((n) => n.startsWith('stress__'))!);
    const cases: [string[], string][] = [
      [['view', resumed], `error: ${resumed}: a study restored from a results bundle keeps no per-step records; its report draws the curves: npm run report -- ${resumed}`],
      [['view', run], `error: ${run}: a run restored from a results bundle keeps its summary and digest, not its per-step records or checkpoint; its study's report draws its curves: npm run report -- ${resumed}`],
      [['sample', run], `error: ${run}: a run restored from a results bundle keeps its summary and digest, not its per-step records or checkpoint; its study's report draws its curves: npm run report -- ${resumed}`],
    ];
    for (const [args, line] of cases) {
      const { status, errors } = await cli(args);
      expect([status, errors], args.join(' ')).toEqual([2, [line]]);
    }
  });
});

describe('finishing the study from the restored folder', () => {
  it('skips every restored run, climbs the ladder on from the restored rungs, and equals the study run in one go', async () => {
    const phases: PhaseCount[] = [];
    const started: string[] = [];
    const restored = names(resumed);
    await runStudy(spec, experiments, resumed, {
      workers: 1,
      events: { ...phaseEvents(phases), onStart: (task) => void started.push(task.dir.split('/').pop()!) },
    });
    // Only the runs not restored are run: tuning is all skipped; the half-done rung 2× is finished
    // in the first stress round (a round plans every rung up to the next one to run, as when a
    // killed study resumes in place), then the ladder climbs on as in one go, then the arms.
    expect(started.sort()).toEqual(names(single).filter((n) => !restored.includes(n)));
    expect(phases.reduce((a, [, runs]) => a + runs, 0)).toBe(started.length);
    expect(phases[0]).toEqual(['tune', 0, singlePhases[0]![1]]);
    expect(phases[1]![1]).toBe(2);
    // That first round names the rung it resumes.
    const resumedNames = singlePhases.map((p) => p[0]).filter((p) => p !== 'ladder tiny-mlp 2×');
    expect(resumedNames[1]).toBe('stress + long');
    expect(phases.map((p) => p[0])).toEqual(resumedNames.map((n, i) => (i === 1 ? 'stress + long, ladder up to tiny-mlp 2×' : n)));
    expect(singlePhases.map((p) => p[0])).toContain('ladder tiny-mlp 4×');
    // The restored files were not touched.
    for (const [path, [bytes, mtime]] of restoredFiles) {
      if (path.endsWith('.lock')) continue;
      expect([readFileSync(path).equals(bytes), statSync(path).mtimeMs], path).toEqual([true, mtime]);
    }
    expect(names(resumed)).toEqual(names(single));
    for (const n of names(single)) expect(summary(resumed, n), n).toEqual(summary(single, n));
    expect(report(resumed)).toBe(report(single));
  });
});
