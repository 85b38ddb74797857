/**
 * The CLI in-process (main(argv)) and, for the real exit status, once as a child process. Errors
 * the user can fix print one line starting "error:", exit with 2, and create no output folder.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { describeError, main } from '../../src/cli/main.js';
import { UsageError } from '../../src/errors.js';
import { readJSON } from '../../src/train/run_files.js';
import type { RunSummary } from '../../src/train/run.js';
import { loadExperiment } from '../../src/catalog/experiments.js';
import { formatNumber } from '../../src/text/table.js';
import { groupLearningRates } from '../../src/study/tuned_record.js';

const ROOT = join(import.meta.dirname, '..', '..');
let tmp: string;

beforeAll(async () => {
  await initBackend();
  tmp = mkdtempSync(join(tmpdir(), 'opt-sandbox-cli-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Everything main writes, split into lines: console.error/log and raw writes (commander, progress). */
let err: string[];
let out: string[];
beforeEach(() => {
  err = [];
  out = [];
  const push = (into: string[]) => (...args: unknown[]) => {
    into.push(...args.map(String).join(' ').split('\n'));
  };
  vi.spyOn(console, 'error').mockImplementation(push(err));
  vi.spyOn(console, 'warn').mockImplementation(push(err));
  vi.spyOn(console, 'log').mockImplementation(push(out));
  vi.spyOn(process.stderr, 'write').mockImplementation(((chunk: unknown) => {
    err.push(...String(chunk).replace(/\n$/, '').split('\n'));
    return true;
  }) as typeof process.stderr.write);
});
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

/** Run main and check the one-line usage-error contract; returns that line. */
async function usageError(argv: string[]): Promise<string> {
  err.length = 0;
  out.length = 0;
  const outDir = join(tmp, `out-${Math.random().toString(36).slice(2)}`);
  const code = await main([...argv, '--out', outDir]);
  const lines = err.filter((l) => l.trim() !== '');
  expect(code, `exit code for ${argv.join(' ')}; stderr: ${lines.join(' | ')}`).toBe(2);
  expect(lines, `stderr for ${argv.join(' ')}`).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).not.toMatch(/\bat .*\.(ts|js):\d+/); // no stack frame
  expect(out).toEqual([]);
  expect(existsSync(outDir)).toBe(false);
  return lines[0]!;
}

describe('usage errors', () => {
  it('run with an unknown experiment lists the known ones', async () => {
    const line = await usageError(['run', 'nope']);
    expect(line).toContain('unknown experiment "nope"');
    for (const name of ['mnist-mlp', 'moe-regimes', 'moe-router-muon']) expect(line).toContain(name);
  });

  it.each([
    [['start', '--steps', '0'], /--steps "0": expected a positive integer/],
    [['start', '--steps', '2.5'], /--steps "2.5"/],
    [['start', '--seeds', 'x'], /--seeds "x"/],
    [['start', '--seeds', '1,1'], /repeated seed/],
    [['start', '--lr', 'abc'], /--lr "abc": "abc" is not a learning rate/],
    [['start', '--lr', 'nosuch=0.1'], /--lr names "nosuch"/],
    [['start', '--optimizers', 'nosuch'], /"nosuch": unknown optimizer; known: .*adamw.*muon/],
    [['start', '--workers', '0'], /--workers "0"/],
    [['start', '--smooth', '1'], /--smooth "1"/],
    [['start', '--backend', 'foo'], /--backend.*foo.*tensorflow, wasm, cpu/],
    [['start', '--nosuch-flag'], /unknown option '--nosuch-flag'/],
    [['nosuch-command'], /unknown command 'nosuch-command'/],
    [['tune', 'nope'], /unknown experiment "nope"/],
    [['tune', 'moe-regimes', '--seeds', 'x'], /--seeds "x"/],
    [['tune', 'moe-regimes', '--workers', '0'], /--workers "0"/],
    [['tune'], /missing required argument 'experiment'/],
  ])('%j → one line, exit 2', async (argv, message) => {
    expect(await usageError(argv)).toMatch(message);
  });

  it('--help is not an error: exit 0, no "error:" line', async () => {
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stdout.write);
    expect(await main(['run', '--help'])).toBe(0);
    expect(written.join('')).toContain('Usage: optimizer-sandbox run');
    expect(err.some((l) => l.startsWith('error'))).toBe(false);
  });

  it('a bad OPT_SANDBOX_BACKEND is a one-line usage error, thrown typed where it is detected', async () => {
    const saved = process.env['OPT_SANDBOX_BACKEND'];
    process.env['OPT_SANDBOX_BACKEND'] = 'foo';
    try {
      expect(await usageError(['run', 'mnist-mlp', '--quick'])).toMatch(/OPT_SANDBOX_BACKEND: unknown backend "foo"; expected one of tensorflow, wasm, cpu/);
    } finally {
      if (saved === undefined) delete process.env['OPT_SANDBOX_BACKEND'];
      else process.env['OPT_SANDBOX_BACKEND'] = saved;
    }
  });

  it('merge of a folder that is no study is a one-line usage error', async () => {
    expect(await usageError(['merge', join(tmp, 'no-such-shard')])).toMatch(/merge: .*no-such-shard has no study\.json/);
  });

  describe('study folders that cannot be read or reused: one error line, exit 2, no stack', () => {
    /** Run main; the command may announce itself first, but it ends with exactly one "error:" line and status 2. */
    async function oneErrorLine(argv: string[]): Promise<string> {
      err.length = 0;
      out.length = 0;
      const code = await main(argv);
      expect(code, err.join(' | ')).toBe(2);
      const errors = err.filter((l) => l.startsWith('error: '));
      expect(errors, err.join(' | ')).toHaveLength(1);
      expect(err.join('\n')).not.toMatch(/\bat .*\.(ts|js):\d+/); // no stack frame
      return errors[0]!;
    }
    const folder = (name: string, studyJson?: string) => {
      const dir = join(tmp, name);
      mkdirSync(dir, { recursive: true });
      if (studyJson !== undefined) writeFileSync(join(dir, 'study.json'), studyJson);
      return dir;
    };
    const DAMAGED = '{"spec": {"name": "tiny"'; // cut short, as by a full disk or a bad copy
    /** A study small enough to plan in a moment (nothing trains: each case fails before). */
    const tinySpec = () => {
      const path = join(tmp, 'tiny-errors-study.mts');
      writeFileSync(
        path,
        `export default {
          name: 'tiny-errors-study', description: 'error test', tasks: [{ experiment: 'moe-regimes' }],
          baseline: 'adamw', treatment: 'muon', seeds: [1],
          tune: { grid: { adamw: [1e-3, 1e-2], muon: [0.01, 0.1] }, steps: 5 },
          stress: { multipliers: [1, 4], steps: 5 }, batchSize: 8,
        };\n`,
      );
      return path;
    };

    it('report of a folder without study.json', async () => {
      const dir = folder('report-no-study');
      expect(await oneErrorLine(['report', dir])).toBe(`error: ${dir}: no study.json; is this a study folder?`);
      expect(existsSync(join(dir, 'REPORT.md'))).toBe(false);
    });

    it('report of a folder whose study.json is damaged', async () => {
      const dir = folder('report-damaged', DAMAGED);
      expect(await oneErrorLine(['report', dir])).toMatch(new RegExp(`^error: ${dir}/study\\.json is damaged \\(.+\\); restore it, or start a new study folder$`));
      expect(existsSync(join(dir, 'REPORT.md'))).toBe(false);
    });

    it('merge of a shard whose study.json is damaged', async () => {
      const dir = folder('merge-damaged', DAMAGED);
      expect(await usageError(['merge', dir])).toMatch(/study\.json is damaged/);
    });

    it('study into a folder that holds a different study, or a damaged study.json', async () => {
      const spec = tinySpec();
      const other = folder('study-other', JSON.stringify({ spec: { name: 'another-study' }, experiments: {} }));
      expect(await oneErrorLine(['study', '--spec', spec, '--workers', '1', '--out', other])).toBe(
        `error: ${other} holds a different study (study.json differs); use a new --out folder`,
      );
      const damaged = folder('study-damaged', DAMAGED);
      expect(await oneErrorLine(['study', '--spec', spec, '--workers', '1', '--out', damaged])).toMatch(/study\.json is damaged/);
      // Nothing trained in either folder.
      for (const d of [other, damaged]) expect(existsSync(join(d, 'runs')) ? readdirSync(join(d, 'runs')) : []).toEqual([]);
    });
  });

  it('errors are mapped by type, never by the text of their message', () => {
    expect(describeError(new UsageError('backend "x" (requested by --backend) is not available'))).toMatchObject({ status: 2, userError: true });
    // The same words in a plain Error are a bug: exit 1, stack kept.
    const bug = describeError(new Error('backend "x" (requested by --backend) is not available'));
    expect(bug).toMatchObject({ status: 1, userError: false });
    expect(bug.line).toMatch(/\n\s+at /);
  });

  it('view of a folder with no runs is a one-line error', async () => {
    const empty = mkdtempSync(join(tmp, 'empty-'));
    const code = await main(['view', empty]);
    expect(code).toBe(2);
    expect(err.filter((l) => l.trim())).toEqual([expect.stringMatching(/^error: .*no run directories/)]);
  });
});

describe('spec files', () => {
  const base = {
    name: 'bad-spec',
    description: 'test',
    data: { kind: 'teacher' },
    model: { kind: 'moe', experts: 4, topK: 2, expertHidden: 8, activation: 'relu' },
    steps: 5,
    batchSize: 8,
    evalEvery: 5,
    schedule: { kind: 'constant' },
    optimizers: { adamw: { name: 'adamw' } },
    seeds: [0],
  };
  function specFile(name: string, body: string): string {
    const path = join(tmp, `${name}.ts`);
    writeFileSync(path, body);
    return path;
  }
  const withSpec = (over: Record<string, unknown>) => `export default ${JSON.stringify({ ...base, ...over }, null, 2)};\n`;

  it.each([
    ['topk', { model: { ...base.model, topK: 3 } }, /experiment "bad-spec": model\.topK = 3: expected 1 or 2/],
    ['steps', { steps: 0 }, /experiment "bad-spec": steps = 0: expected a positive integer/],
    ['activation', { model: { kind: 'mlp', hidden: [4], activation: 'swish' } }, /model\.activation = "swish"/],
    ['schedule', { schedule: { kind: 'cosine', warmup: -2 } }, /schedule\.warmup = -2/],
    ['lr', { optimizers: { adamw: { name: 'adamw', options: { learningRate: -1 } } } }, /optimizers\.adamw: .*learningRate/],
    ['seeds', { seeds: [] }, /seeds: expected a non-empty array/],
  ])('a spec with a bad %s names the field in one line', async (name, over, message) => {
    expect(await usageError(['run', specFile(`bad-${name}`, withSpec(over))])).toMatch(message);
  });

  it('tune refuses a spec whose optimizer has no study grid or no learningRate, writing no record', async () => {
    const record = join(tmp, 'never.json');
    const sgd = { optimizers: { sgd: { name: 'sgd', options: { learningRate: 0.1 } } } };
    expect(await usageError(['tune', specFile('tune-sgd', withSpec(sgd)), '--record', record])).toMatch(/no LR grid for optimizer "sgd"/);
    expect(await usageError(['tune', specFile('tune-nolr', withSpec({})), '--record', record])).toMatch(/must set options.learningRate/);
    expect(existsSync(record)).toBe(false);
  });

  it('a spec with an empty lrSource statement is refused', async () => {
    expect(await usageError(['run', specFile('bad-source', withSpec({ lrSource: ' ' }))])).toMatch(/lrSource = " ": expected a non-empty statement/);
  });

  it('a spec that does not load, or has no default export, is a one-line error', async () => {
    expect(await usageError(['run', specFile('syntax', 'export default {\n')])).toMatch(/failed to load/);
    expect(await usageError(['run', specFile('nodefault', 'export const x = 1;\n')])).toMatch(/has no default export/);
  });
});

describe('a successful run', () => {
  it('run mnist-mlp --quick writes run folders, prints a chart and a table; view redraws them', async () => {
    const outDir = join(tmp, 'success');
    const code = await main(['run', 'mnist-mlp', '--quick', '--seeds', '1', '--steps', '5', '--workers', '1', '--out', outDir]);
    expect(code, err.join('\n')).toBe(0);
    const runs = readdirSync(outDir).filter((f) => f !== 'runs.html').sort();
    expect(runs).toEqual(['mnist-mlp__adamw__s0', 'mnist-mlp__muon__s0']);
    // The HTML page of the figures is written next to the runs and its path printed last.
    expect(existsSync(join(outDir, 'runs.html'))).toBe(true);
    expect(out.at(-1)).toBe(`figures: ${resolve(outDir, 'runs.html')}`);
    for (const r of runs) {
      const summary = readJSON<RunSummary>(join(outDir, r, 'summary.json'));
      expect(summary.steps).toBe(5);
      expect(summary.diverged).toBe(false);
    }
    const printed = out.join('\n');
    expect(printed).toContain('mnist-mlp: training loss (median over seeds)');
    expect(printed).toMatch(/adamw/);
    expect(printed).toMatch(/muon/);
    expect(printed).toContain('final loss');
    expect(printed).toContain('eval acc');
    expect(printed).toContain('(median [q1–q3] over seeds; spikes are events per run)');
    expect(printed).toMatch(/2 runs in [\d.]+ s → /);
    expect(err.some((l) => l.startsWith('error'))).toBe(false);

    // Each optimizer's LR and where it comes from, as the loaded experiment says.
    const spec = await loadExperiment('mnist-mlp');
    for (const label of ['adamw', 'muon']) {
      const setup = spec.optimizers[label]!;
      const lrs = Object.values(groupLearningRates(setup)).map((x) => formatNumber(x));
      const cell = `${lrs[0]}${lrs.length > 1 ? ` (adamw ${lrs[1]})` : ''}, ${setup.lrSource}`;
      expect(printed).toMatch(new RegExp(`\\| mnist-mlp +\\| ${label} +\\| fp32 +\\| ${cell.replace(/[().]/g, '\\$&')} +\\|`));
    }

    // view redraws exactly the chart and table printed after training.
    const rendered = out.slice(0, out.findIndex((l) => /^2 runs in /.test(l))).join('\n').trimEnd();
    out.length = 0;
    expect(await main(['view', outDir])).toBe(0);
    expect(out.join('\n').trimEnd()).toBe(rendered);
  });
});

describe('LR sources', () => {
  it('an LR given with --lr is marked as such; the other optimizer keeps its source', async () => {
    const outDir = join(tmp, 'lr-flag');
    const code = await main(['run', 'moe-regimes', '--quick', '--seeds', '1', '--steps', '3', '--workers', '1', '--lr', 'adamw=0.01', '--out', outDir]);
    expect(code, err.join('\n')).toBe(0);
    const printed = out.join('\n');
    expect(printed).toMatch(/\| moe-regimes +\| adamw +\| fp32 +\| 0\.01, --lr +\|/);
    const muon = (await loadExperiment('moe-regimes')).optimizers['muon']!;
    expect(printed).toContain(`| muon      | fp32      | ${formatNumber(groupLearningRates(muon)['muon'])} (adamw ${formatNumber(groupLearningRates(muon)['adamw'])}), ${muon.lrSource}`);
  });

  it('tune --help explains the command and its flags', async () => {
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stdout.write);
    expect(await main(['tune', '--help'])).toBe(0);
    const help = written.join('');
    for (const flag of ['--seeds', '--workers', '--out', '--record', '--backend']) expect(help).toContain(flag);
    expect(help).toContain('experiments/tuned/<experiment>.json');
  });
});

describe('as a child process', () => {
  it('exits with status 2 and one stderr line for a commander error and for a spec error', () => {
    for (const [argv, message] of [
      [['start', '--backend', 'foo'], /--backend/],
      [['run', 'nope'], /unknown experiment "nope"/],
    ] as const) {
      const outDir = join(tmp, 'child-out');
      const res = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...argv, '--out', outDir], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 60_000,
      });
      const lines = res.stderr.split('\n').filter((l) => l.trim() !== '');
      expect(res.status, res.stderr.slice(-400)).toBe(2);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^error: /);
      expect(lines[0]).toMatch(message);
      expect(res.stdout).toBe('');
      expect(existsSync(outDir)).toBe(false);
    }
  });
});
