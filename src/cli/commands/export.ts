/** `export`: a run's starting point for other frameworks (initial weights, batch order, data, manifest.json). */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadExperiment } from '../../catalog/experiments.js';
import { UsageError } from '../../errors.js';
import { checkDataAvailable } from '../../train/build.js';
import { expandRuns } from '../../train/config.js';
import { loadVariants } from '../../variants/modules.js';
import { parsePositiveInt, parseSeeds } from '../args.js';
import { flag, resolveBackend, withOptions, type BackendFlags } from '../flags.js';
import type { RegisterCommand } from '../session.js';

interface ExportFlags extends BackendFlags {
  out: string;
  seed?: string;
  steps?: string;
}

async function exportCommand(name: string, flags: ExportFlags): Promise<0> {
  const seed = flags.seed === undefined ? 0 : parseSeeds(`${flags.seed},`)[0]!;
  await loadVariants(); // an experiment may name a variant from optimizers/
  const spec = await loadExperiment(name);
  const runs = expandRuns(spec, { seeds: [seed], ...(flags.steps !== undefined ? { steps: parsePositiveInt('--steps', flags.steps) } : {}) });
  const dir = resolve(flags.out);
  if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0)) {
    throw new UsageError(`--out ${flags.out}: exists and is not an empty folder`);
  }
  checkDataAvailable(spec.data);
  const backend = await resolveBackend(flags);
  const { exportRun } = await import('../../interop/export.js');
  const manifest = exportRun(runs, dir, backend.name);
  console.log(
    `exported ${manifest.experiment} seed ${seed}: ${manifest.weights.length} weights, ${manifest.batches.shape[0]} steps of batch order, ` +
      `${Object.keys(manifest.data).filter((k) => /_(x|y|ids|offsets)$/.test(k)).length} data arrays, ${manifest.runs.length} configs → ${join(dir, 'manifest.json')}`,
  );
  return 0;
}

export const registerExport: RegisterCommand = (program, exit) => {
  withOptions(
    program
      .command('export')
      .description("write a run's starting point for other frameworks: initial weights, batch order, data (.npy) and the resolved config (manifest.json)")
      .argument('<experiment>', 'experiment name or spec file path'),
    flag.out('folder to write (must be empty or absent)').makeOptionMandatory(),
    flag.seed('run seed (default 0)'),
    flag.steps("how many steps of batch order to write (default: the spec's steps)"),
    flag.backend('tfjs backend used to build the initial weights'),
  ).action(async (name: string, flags: ExportFlags) => exit(await exportCommand(name, flags)));
};
