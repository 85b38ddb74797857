/** `new-optimizer`: write a commented optimizer variant file and its conformance test, ready to edit. */
import { Option } from 'commander';
import { loadVariants } from '../../variants/modules.js';
import { SCAFFOLD_BASES, scaffoldOptimizer } from '../../variants/scaffold.js';
import type { RegisterCommand } from '../session.js';

async function newOptimizerCommand(name: string, flags: { from: string; dir?: string }): Promise<0> {
  // Existing variants first, so a name clash is caught.
  await loadVariants();
  const r = scaffoldOptimizer({ name, from: flags.from, ...(flags.dir !== undefined ? { dir: flags.dir } : {}) });
  console.log(`written: ${r.variantFile}\nwritten: ${r.testFile}`);
  if (r.packageJson) console.log(`written: ${r.packageJson} ({"type": "module"}: .ts files there load as ES modules)`);
  console.log(`\nedit the plan in ${r.variantFile}, then:\n${r.next.map((c) => `  ${c}`).join('\n')}`);
  return 0;
}

export const registerNewOptimizer: RegisterCommand = (program, exit) => {
  program
    .command('new-optimizer')
    .description('write a commented optimizer variant file and its test (the conformance kit), ready to edit')
    .argument('<name>', "the new optimizer's registry name, e.g. my-muon")
    .addOption(new Option('--from <base>', 'the optimizer it starts as').choices([...SCAFFOLD_BASES]).default('muon'))
    .option('--dir <dir>', 'folder for the two files (default: optimizers/, which every command loads by itself)')
    .action(async (name: string, flags: { from: string; dir?: string }) => exit(await newOptimizerCommand(name, flags)));
};
