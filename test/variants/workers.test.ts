/**
 * Variants load everywhere. Regression: a variant defined in the user's own experiment
 * file failed in the worker threads with `unknown optimizer` (the workers never imported the
 * file), while `--workers 1` worked. Now every user module the parent loaded reaches each worker.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { currentBackend, initBackend } from '../../src/backend.js';
import { main } from '../../src/cli/main.js';
import { listOptimizers } from '../../src/optimizers/index.js';
import { readJSON } from '../../src/train/run_files.js';
import type { RunSummary } from '../../src/train/run.js';
import { loadOptimizerFolder, userModules } from '../../src/variants/modules.js';
import { ROOT, sandboxImport, userFolder, writeExperiment, writeUserLion } from './fixtures.js';

const folders: string[] = [];
let err: string[];
beforeAll(async () => {
  await initBackend();
});
afterAll(() => {
  for (const f of folders) rmSync(f, { recursive: true, force: true });
});
beforeEach(() => {
  err = [];
  const push = (...args: unknown[]) => void err.push(...args.map(String).join(' ').split('\n'));
  vi.spyOn(console, 'error').mockImplementation(push);
  vi.spyOn(console, 'log').mockImplementation(() => {});
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

function folder(label: string): string {
  const f = userFolder(label);
  folders.push(f);
  return f;
}

const summary = (dir: string): RunSummary => readJSON<RunSummary>(join(dir, 'summary.json'));

describe('a variant defined outside src/ runs in worker threads', () => {
  /** The walkthrough's variant file (docs/optimizers.md, linked from the README), copied into a folder of its own. */
  function readmeVariant(): string {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme, 'the README links the walkthrough').toContain('docs/optimizers.md#add-an-optimizer-variant');
    const page = readFileSync(join(ROOT, 'docs', 'optimizers.md'), 'utf8');
    const start = page.indexOf('\n## Add an optimizer variant\n');
    expect(start, 'docs/optimizers.md has the walkthrough').toBeGreaterThan(-1);
    const end = page.indexOf('\n## ', start + 1);
    const section = page.slice(start, end === -1 ? undefined : end);
    const code = /```ts\n([\s\S]*?)\n\s*```/.exec(section)?.[1];
    expect(code, 'the walkthrough has a ts code block').toBeDefined();
    // The walkthrough's file sits in optimizers/; this copy imports the sandbox from its own folder.
    expect(code).toContain("from '../src/index.js'");
    const dir = folder('variant-readme');
    const file = join(dir, 'my-lion.ts');
    writeFileSync(file, code!.replace(/^ {3}/gm, '').replace("'../src/index.js'", `'${sandboxImport(dir)}'`));
    return file;
  }

  // One pool for both ways in (worker start-up is most of this test's cost).
  it("regression: a variant the experiment file imports, and the walkthrough's variant (docs/optimizers.md) loaded with --require, run with --workers 2 exactly as with --workers 1", async () => {
    const dir = folder('variant-exp');
    const variant = writeUserLion(dir, 'user-lion', 'UserLion');
    const experiment = writeExperiment(dir, 'user-lion-exp', variant, 'user-lion');
    const readmeFile = readmeVariant();
    const argv = ['run', experiment, '--optimizers', 'mine,my-lion', '--lr', 'mine=1e-3,my-lion=5e-4', '--require', readmeFile];
    const two = join(dir, 'out2');
    const one = join(dir, 'out1');
    expect(await main([...argv, '--workers', '2', '--out', two]), err.join('\n')).toBe(0);
    expect(err.join('\n')).toMatch(/2 runs → .*2 workers/);
    expect(await main([...argv, '--workers', '1', '--out', one]), err.join('\n')).toBe(0);
    for (const [label, name] of [
      ['mine', 'user-lion'],
      ['my-lion', 'my-lion'],
    ] as const) {
      const pooled = summary(join(two, `user-lion-exp__${label}__s0`));
      expect(pooled.optimizerName).toBe(name);
      expect(pooled.steps).toBe(8);
      expect(Number.isFinite(pooled.finalLoss)).toBe(true);
      // The worker built the same optimizer as this thread: identical numbers.
      const serial = summary(join(one, `user-lion-exp__${label}__s0`));
      expect(pooled.finalLoss).toBe(serial.finalLoss);
      expect(pooled.evalLoss).toBe(serial.evalLoss);
    }
    expect(userModules()).toEqual(expect.arrayContaining([pathToFileURL(experiment).href, pathToFileURL(readmeFile).href]));
    // The walkthrough's step 3: the variant passes the conformance kit.
    expect(await main(['check-optimizer', 'my-lion', '--require', readmeFile, '--backend', currentBackend().name]), err.join('\n')).toBe(0);
  });

  it('a name still unknown fails before any run, in one line naming the ways to load it', async () => {
    const out = join(folder('variant-unknown'), 'out');
    expect(await main(['run', 'mnist-mlp', '--quick', '--optimizers', 'no-such-variant', '--workers', '2', '--out', out])).toBe(2);
    const lines = err.filter((l) => l.trim() !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: .*"no-such-variant": unknown optimizer.*--require FILE/);
    expect(existsSync(out)).toBe(false);
  });

  it('--require of a missing or broken file is a one-line error, before anything is written', async () => {
    const dir = folder('variant-broken');
    const broken = join(dir, 'broken.ts');
    writeFileSync(broken, "throw new Error('boom in the variant');\n");
    for (const [file, message] of [
      [join(dir, 'absent.ts'), /--require .*absent\.ts: no such file/],
      [broken, /--require .*broken\.ts failed to load: boom in the variant/],
    ] as const) {
      err.length = 0;
      const out = join(dir, 'out');
      expect(await main(['run', 'mnist-mlp', '--quick', '--require', file, '--out', out])).toBe(2);
      const lines = err.filter((l) => l.trim() !== '');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(message);
      expect(existsSync(out)).toBe(false);
    }
  });
});

describe('the optimizers/ folder', () => {
  it('loads every variant file, skips test files, and records them for the workers', async () => {
    const dir = folder('variant-folder');
    const variant = writeUserLion(dir, 'folder-lion', 'FolderLion');
    // Importing a test file outside vitest would fail: it must not be loaded.
    writeFileSync(join(dir, 'folder-lion.test.ts'), "throw new Error('a test file was loaded as a variant');\n");
    expect(await loadOptimizerFolder(dir)).toEqual([variant]);
    expect(listOptimizers().map((o) => o.name)).toContain('folder-lion');
    expect(userModules()).toContain(pathToFileURL(variant).href);
    // Loading twice (a --require of a file the folder already loaded) registers nothing twice.
    await loadOptimizerFolder(dir);
    expect(listOptimizers().filter((o) => o.name === 'folder-lion')).toHaveLength(1);
    expect(await loadOptimizerFolder(join(dir, 'absent'))).toEqual([]);
  });
});
