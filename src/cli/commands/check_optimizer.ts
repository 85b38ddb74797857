/** `check-optimizer`: the conformance kit on one optimizer, on wasm and cpu. Exit 1 when a check fails. */
import { Option } from 'commander';
import { UsageError } from '../../errors.js';
import { loadVariants } from '../../variants/modules.js';
import { flag, resolveBackends, withOptions, type BackendFlags } from '../flags.js';
import type { ExitStatus, RegisterCommand } from '../session.js';

interface CheckFlags extends BackendFlags {
  require?: string[];
  options?: string;
}

/** The backends the kit runs on unless --backend names one. */
const CHECK_BACKENDS = ['wasm', 'cpu'] as const;

function parseOptions(value: string | undefined): Record<string, unknown> {
  if (value === undefined) return {};
  let options: unknown;
  try {
    options = JSON.parse(value);
  } catch (e) {
    throw new UsageError(`--options ${JSON.stringify(value)}: not JSON (${(e as Error).message})`);
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new UsageError(`--options ${JSON.stringify(value)}: expected a JSON object of option values`);
  }
  return options as Record<string, unknown>;
}

async function checkOptimizerCommand(name: string, flags: CheckFlags): Promise<ExitStatus> {
  await loadVariants(flags.require);
  const options = parseOptions(flags.options);
  const { checkOptimizer, formatConformance } = await import('../../variants/conformance.js');
  const backends = await resolveBackends(flags, CHECK_BACKENDS, 'check-optimizer');
  const report = await checkOptimizer(name, { options, backends });
  console.log(formatConformance(report));
  return report.passed ? 0 : 1;
}

export const registerCheckOptimizer: RegisterCommand = (program, exit) => {
  withOptions(
    program
      .command('check-optimizer')
      .description('the conformance kit: run every generic check the shipped optimizers pass on one optimizer, on wasm and cpu')
      .argument('<name>', 'a registered optimizer, e.g. one defined in optimizers/ or in a --require file'),
    flag.require(),
    new Option('--options <json>', 'build the optimizer with these options in every check, e.g. \'{"learningRate":1e-3}\''),
    flag.backend('only this backend (default: wasm and cpu)'),
  ).action(async (name: string, flags: CheckFlags) => exit(await checkOptimizerCommand(name, flags)));
};
