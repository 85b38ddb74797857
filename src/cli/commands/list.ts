/** `list`: the catalog's experiments and the registered optimizers with their defaults. */
import { listExperimentNames } from '../../catalog/experiments.js';
import { listOptimizers } from '../../optimizers/index.js';
import { loadVariants } from '../../variants/modules.js';
import { flag, withOptions } from '../flags.js';
import type { RegisterCommand } from '../session.js';

async function listCommand(flags: { require?: string[] }): Promise<0> {
  await loadVariants(flags.require);
  console.log(`experiments (experiments/*.ts): ${listExperimentNames().join(', ')}\n`);
  for (const o of listOptimizers()) {
    console.log(`${o.name} (${o.className}): ${o.description}`);
    for (const opt of o.options) console.log(`  ${opt.name} = ${JSON.stringify(opt.default)}  — ${opt.doc}`);
  }
  return 0;
}

export const registerList: RegisterCommand = (program, exit) => {
  withOptions(
    program.command('list').description('list the experiments and the registered optimizers (with optimizers/ and --require files) and their defaults'),
    flag.require(),
  ).action(async (flags: { require?: string[] }) => exit(await listCommand(flags)));
};
