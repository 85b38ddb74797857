/**
 * User modules: the files outside the library that register optimizer variants (experiment and
 * study spec files and whatever they import, `--require` files, the project's `optimizers/`
 * folder). Worker threads have their own module graph and their own optimizer registry, so every
 * module loaded here is recorded, and the pool has each worker import the same list before it
 * builds an optimizer: a variant defined in any of these files works with any number of workers.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The project root (the folder holding src/, experiments/ and optimizers/). */
export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Auto-loaded by the CLI: a variant dropped here is known to every command without --require. */
export const OPTIMIZERS_DIR = join(PROJECT_ROOT, 'optimizers');

/** A user module that could not be loaded; the message is one line naming the file. */
export class ModuleLoadError extends Error {
  override name = 'ModuleLoadError';
}

const loaded = new Set<string>();

/** Record a module (a path or a file: URL) that workers must import too. */
export function recordUserModule(pathOrUrl: string): void {
  loaded.add(pathOrUrl.startsWith('file:') ? pathOrUrl : pathToFileURL(resolve(pathOrUrl)).href);
}

/** Every recorded user module, as file: URLs, in load order. */
export function userModules(): string[] {
  return [...loaded];
}

/**
 * Why a file would not load as an ES module, or undefined. Node (and tsx) load a .ts/.js file as
 * CommonJS unless the nearest package.json says "type": "module"; a CommonJS variant file would
 * get a second copy of the sandbox's modules, whose registrations clash with the first copy's.
 */
export function moduleFormatProblem(path: string): string | undefined {
  const ext = extname(path);
  if (ext === '.mts' || ext === '.mjs') return undefined;
  const fix = 'rename it to .mts, or put a package.json with {"type": "module"} in its folder';
  if (ext === '.cts' || ext === '.cjs') return `${path} is a CommonJS file: ${fix}`;
  for (let dir = dirname(resolve(path)); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      let type: unknown;
      try {
        type = (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: unknown }).type;
      } catch {
        return `${path}: ${pkg} is not valid JSON`;
      }
      return type === 'module' ? undefined : `${path} would load as CommonJS (${pkg} has no "type": "module"): ${fix}`;
    }
    if (dirname(dir) === dir) return `${path} would load as CommonJS (no package.json above it): ${fix}`;
  }
}

/**
 * The first line of an import error (the rest is a stack into the user's file), followed by the
 * module-format problem when there is one: a CommonJS file that imports the sandbox fails with a
 * confusing "already registered" error from the second copy, and this says what to do instead.
 */
export function firstLineWithHint(e: unknown, path: string): string {
  const line = String((e as Error)?.message ?? e).split('\n')[0];
  const problem = moduleFormatProblem(path);
  return problem ? `${line} (${problem})` : line;
}

/**
 * Import a user module and record it. `what` names it in errors (e.g. "--require lion.ts").
 * Import errors keep only their first line: the rest is a stack into the user's file.
 */
async function loadUserModule(path: string, what = path): Promise<void> {
  const abs = resolve(path);
  if (!existsSync(abs) || !statSync(abs).isFile()) throw new ModuleLoadError(`${what}: no such file`);
  const url = pathToFileURL(abs).href;
  try {
    await import(url);
  } catch (e) {
    throw new ModuleLoadError(`${what} failed to load: ${firstLineWithHint(e, abs)}`);
  }
  recordUserModule(url);
}

/** The variant files in a folder: *.ts and *.js, not tests or declarations, in name order. */
function variantFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.(ts|mts|js|mjs)$/.test(f) && !/\.(test|spec)\.[mc]?[tj]s$/.test(f) && !f.endsWith('.d.ts'))
    .sort()
    .map((f) => join(dir, f));
}

/** Load every variant file of a folder (the CLI: the project's `optimizers/`). Absent folder: nothing. */
export async function loadOptimizerFolder(dir = OPTIMIZERS_DIR): Promise<string[]> {
  const files = variantFiles(dir);
  for (const f of files) await loadUserModule(f, f);
  return files;
}

/** What the CLI loads before it resolves optimizer names: the optimizers/ folder, then each --require. */
export async function loadVariants(requires: readonly string[] = [], dir = OPTIMIZERS_DIR): Promise<void> {
  await loadOptimizerFolder(dir);
  for (const r of requires) await loadUserModule(r, `--require ${r}`);
}
