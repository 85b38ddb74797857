/**
 * Experiment discovery: every `experiments/<name>.ts` default-exports an ExperimentSpec, so adding
 * a file adds an experiment; the CLI needs no change.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SpecError, validateExperiment, type ExperimentSpec } from '../train/config.js';
import { validateStudy, type StudySpec } from '../study/protocol.js';
import { firstLineWithHint, recordUserModule } from '../variants/modules.js';
import { applyTuning, readRecord, recordPath } from '../study/tuned_record.js';

export const EXPERIMENTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'experiments');

export function listExperimentNames(dir = EXPERIMENTS_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

/**
 * An experiment ready to run: the spec with its learning rates from its tuning record
 * (experiments/tuned/<name>.json) when that record was made for this spec, every optimizer marked
 * with where its LRs come from. A record made for another version of the spec is not applied, and
 * `warn` says so.
 */
export async function loadExperiment(
  nameOrPath: string,
  dir = EXPERIMENTS_DIR,
  warn: (line: string) => void = (l) => console.error(`warning: ${l}`),
): Promise<ExperimentSpec> {
  const spec = await loadExperimentSpec(nameOrPath, dir);
  const file = recordPath(dir, spec.name);
  const applied = applyTuning(spec, readRecord(file), file);
  if (applied.warning) warn(applied.warning);
  return applied.spec;
}

/** Load and validate an experiment by name, or from a path to a .ts file: the spec as written (the LRs tuning scales). */
export async function loadExperimentSpec(nameOrPath: string, dir = EXPERIMENTS_DIR): Promise<ExperimentSpec> {
  const path = nameOrPath.endsWith('.ts') ? nameOrPath : join(dir, `${nameOrPath}.ts`);
  if (!existsSync(path)) {
    throw new SpecError(`unknown experiment "${nameOrPath}"; known experiments: ${listExperimentNames(dir).join(', ')}`);
  }
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (e) {
    throw new SpecError(`experiment ${path} failed to load: ${firstLineWithHint(e, path)}`);
  }
  // Workers import it too, so the variants it defines or imports exist there (src/variants/modules.ts).
  recordUserModule(path);
  const spec = mod.default as ExperimentSpec | undefined;
  if (!spec || typeof spec !== 'object') throw new SpecError(`experiment ${path} has no default export`);
  validateExperiment(spec);
  return spec;
}

export const STUDIES_DIR = join(EXPERIMENTS_DIR, 'studies');

/** A study spec file default-exports the full protocol and may export `quick`, its small version. */
export async function loadStudy(nameOrPath: string, quick: boolean): Promise<StudySpec> {
  const path = nameOrPath.endsWith('.ts') ? nameOrPath : join(STUDIES_DIR, `${nameOrPath}.ts`);
  if (!existsSync(path)) {
    const known = existsSync(STUDIES_DIR) ? listExperimentNames(STUDIES_DIR).join(', ') : '(none)';
    throw new SpecError(`unknown study "${nameOrPath}"; known studies: ${known}`);
  }
  let mod: { default?: StudySpec; quick?: StudySpec };
  try {
    mod = (await import(pathToFileURL(path).href)) as { default?: StudySpec; quick?: StudySpec };
  } catch (e) {
    throw new SpecError(`study ${path} failed to load: ${firstLineWithHint(e, path)}`);
  }
  recordUserModule(path);
  const spec = quick ? mod.quick : mod.default;
  if (!spec) throw new SpecError(`study ${path} has no ${quick ? '`quick` export' : 'default export'}`);
  try {
    validateStudy(spec);
  } catch (e) {
    throw new SpecError((e as Error).message);
  }
  return spec;
}
