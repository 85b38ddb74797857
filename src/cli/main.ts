/**
 * The sandbox CLI: builds the program from one file per command (src/cli/commands/), runs it, and
 * maps what it ends with to an exit status. Every error that is the user's to fix (flag, spec,
 * path) prints one line and exits with status 2, before any run directory exists; faults of the
 * machine print one line and exit 1; anything else is a bug and keeps its stack.
 */
import { Command, CommanderError } from 'commander';
import { EnvironmentError, describeFsError, firstLine, OutputPathError, UsageError } from '../errors.js';
import { OptionError } from '../optimizers/options.js';
import { RunFailure } from '../study/pool.js';
import { SpecError } from '../train/config.js';
import { ModuleLoadError } from '../variants/modules.js';
import { ScaffoldError } from '../variants/scaffold.js';
import { registerBench } from './commands/bench.js';
import { registerCalibrate } from './commands/calibrate.js';
import { registerCheckOptimizer } from './commands/check_optimizer.js';
import { registerExport } from './commands/export.js';
import { registerList } from './commands/list.js';
import { registerMerge } from './commands/merge.js';
import { registerNewOptimizer } from './commands/new_optimizer.js';
import { registerPublish } from './commands/publish.js';
import { registerReport } from './commands/report.js';
import { registerRestore } from './commands/restore.js';
import { registerRun } from './commands/run.js';
import { registerSample } from './commands/sample.js';
import { registerSlurm } from './commands/slurm.js';
import { registerStart } from './commands/start.js';
import { registerStudy } from './commands/study.js';
import { registerTune } from './commands/tune.js';
import { registerVerifyBundle } from './commands/verify_bundle.js';
import { registerView } from './commands/view.js';
import type { ExitStatus, RegisterCommand } from './session.js';

/** In the order `--help` lists them. */
const COMMANDS: readonly RegisterCommand[] = [
  registerStart,
  registerRun,
  registerView,
  registerStudy,
  registerTune,
  registerCalibrate,
  registerReport,
  registerPublish,
  registerVerifyBundle,
  registerRestore,
  registerMerge,
  registerBench,
  registerCheckOptimizer,
  registerNewOptimizer,
  registerExport,
  registerSample,
  registerSlurm,
  registerList,
];

/** The program; the command that runs hands its exit status to `exit`. */
export function buildProgram(exit: (status: ExitStatus) => void = () => {}): Command {
  const program = new Command()
    .name('optimizer-sandbox')
    .description('Muon vs AdamW (and your own variants) on small MLPs and tiny MoE layers: loss curves, loss spikes, divergence.')
    .showSuggestionAfterError()
    // Throw instead of process.exit (inherited by the subcommands), so main() maps usage errors to 2.
    .exitOverride();
  for (const register of COMMANDS) register(program, exit);
  return program;
}

/**
 * One line and an exit status for an error, by its type alone: the module that detects a fault
 * throws the class that says whose it is (src/errors.ts). Errors the user can fix exit 2; faults
 * of the machine (full disk, no permission, a missing package) exit 1; anything else is a bug and
 * keeps its stack (exit 1).
 */
export function describeError(e: unknown): { line: string; userError: boolean; status: 1 | 2 } {
  if (e instanceof EnvironmentError) return { line: firstLine(e.message), userError: false, status: 1 };
  if (e instanceof RunFailure) return { line: firstLine(e.message), userError: e.status === 2, status: e.status };
  if (e instanceof UsageError || e instanceof SpecError || e instanceof OptionError || e instanceof OutputPathError || e instanceof ModuleLoadError || e instanceof ScaffoldError) {
    return { line: firstLine(e.message), userError: true, status: 2 };
  }
  const fsFault = describeFsError(e);
  if (fsFault) return { line: fsFault.line, userError: fsFault.status === 2, status: fsFault.status };
  return { line: (e as Error)?.stack ?? String(e), userError: false, status: 1 };
}

export async function main(argv: readonly string[]): Promise<number> {
  let status: ExitStatus = 0;
  try {
    await buildProgram((s) => (status = s)).parseAsync(argv as string[], { from: 'user' });
    return status;
  } catch (e) {
    // Commander has already printed its one-line error (or the help); --help and --version are not errors.
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    const { line, status: failed } = describeError(e);
    console.error(`error: ${line}`);
    return failed;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // Exit explicitly: the wasm backend keeps handles that would otherwise hold the process open.
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
