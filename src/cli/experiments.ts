/**
 * Experiment discovery: every `experiments/<name>.ts` default-exports an ExperimentSpec, so adding
 * a file adds an experiment; the CLI needs no change.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SpecError, validateExperiment, type ExperimentSpec } from '../train/config.js';

export const EXPERIMENTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'experiments');

export function listExperimentNames(dir = EXPERIMENTS_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

/** Load and validate an experiment by name, or from a path to a .ts file. */
export async function loadExperiment(nameOrPath: string, dir = EXPERIMENTS_DIR): Promise<ExperimentSpec> {
  const path = nameOrPath.endsWith('.ts') ? nameOrPath : join(dir, `${nameOrPath}.ts`);
  if (!existsSync(path)) {
    throw new SpecError(`unknown experiment "${nameOrPath}"; known experiments: ${listExperimentNames(dir).join(', ')}`);
  }
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (e) {
    throw new SpecError(`experiment ${path} failed to load: ${(e as Error).message.split('\n')[0]}`);
  }
  const spec = mod.default as ExperimentSpec | undefined;
  if (!spec || typeof spec !== 'object') throw new SpecError(`experiment ${path} has no default export`);
  validateExperiment(spec);
  return spec;
}
