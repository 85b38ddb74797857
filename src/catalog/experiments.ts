/**
 * The catalog of experiments and studies: every `experiments/<name>.ts` default-exports an
 * ExperimentSpec and every `experiments/studies/<name>.ts` a StudySpec, so adding a file adds an
 * experiment; no command needs a change. A spec can also be given by path, anywhere on disk.
 * Lives below the CLI so that every front end (the CLI, a Slurm job, the playground) finds the
 * same specs the same way.
 */
import { existsSync, readdirSync } from 'node:fs';
import { extname, join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SpecError, validateExperiment, type ExperimentSpec } from '../train/config.js';
import { experimentFileOf, validateStudy, type StudySpec } from '../study/protocol.js';
import { firstLineWithHint, PROJECT_ROOT, recordUserModule } from '../variants/modules.js';
import { applyTuning, readRecord, recordPath } from '../study/tuned_record.js';

export const EXPERIMENTS_DIR = join(PROJECT_ROOT, 'experiments');

/** The main job (`npm start`): the two fast tasks, Muon vs AdamW. */
export const MAIN_EXPERIMENTS: readonly string[] = ['mnist-mlp', 'moe-regimes'];

/**
 * Extensions of a spec given by path. `.mts`/`.mjs` always load as ES modules; `.ts`/`.js` do
 * where the nearest package.json says "type": "module" (the project's own does). `.cts`/`.cjs`
 * count as paths too, so that their load error can say to rename them (src/variants/modules.ts).
 */
const SPEC_EXTENSIONS = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'];

/** A spec argument is a path when it has a module extension or names a folder; otherwise a name. */
export function isSpecPath(nameOrPath: string): boolean {
  return SPEC_EXTENSIONS.includes(extname(nameOrPath)) || nameOrPath.includes('/') || nameOrPath.includes(sep);
}

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

/** Load and validate an experiment by name, or from a path to a spec file: the spec as written (the LRs tuning scales). */
export async function loadExperimentSpec(nameOrPath: string, dir = EXPERIMENTS_DIR): Promise<ExperimentSpec> {
  const path = isSpecPath(nameOrPath) ? nameOrPath : join(dir, `${nameOrPath}.ts`);
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

/** The study `study`, `study:quick` and `slurm study` run when no --spec is given (v2 stays `--spec stability`). */
export const DEFAULT_STUDY = 'stability-v3';

/** The study whose grids, seeds and selection rule `tune` and `slurm tune` apply (v3 tunes on the same ones). */
export const TUNING_STUDY = 'stability';

/** A study spec file default-exports the full protocol and may export `quick`, its small version. */
export async function loadStudy(nameOrPath: string, quick: boolean): Promise<StudySpec> {
  const path = isSpecPath(nameOrPath) ? nameOrPath : join(STUDIES_DIR, `${nameOrPath}.ts`);
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

/**
 * The experiments of a study's tasks, keyed by task name: a variant task (`base`, e.g. a width
 * variant `lm-moe-d32`) gets its base experiment's spec under its own name, so its runs carry the
 * task name and the analysis tells the variants apart. Specs as written: the study tunes its own LRs.
 */
export async function loadStudyExperiments(study: StudySpec): Promise<Map<string, ExperimentSpec>> {
  const out = new Map<string, ExperimentSpec>();
  for (const t of study.tasks) {
    const spec = await loadExperimentSpec(experimentFileOf(t));
    out.set(t.experiment, t.base !== undefined ? { ...spec, name: t.experiment } : spec);
  }
  return out;
}
