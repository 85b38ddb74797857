/**
 * Every flag two or more commands share, declared once, and the one place each is turned into a
 * typed value: `resolveBackend`, `resolveWorkers`, `resolveCheckpointEvery`, `resolveRunOverrides`,
 * `resolveView`. A command adds the flags it takes (help texts may be specialised) and calls the resolvers.
 */
import { Option, type Command } from 'commander';
import { BACKENDS, initBackend, parseBackendName, type BackendChoice, type BackendName } from '../backend.js';
import { PRECISION_PRESET_NAMES } from '../precision/qat.js';
import { defaultWorkers } from '../study/pool.js';
import type { ResolveOverrides } from '../train/config.js';
import { AUTO_CHECKPOINT_SECONDS } from '../train/loop.js';
import { useColor } from '../text/chart.js';
import { parseList, parseLr, parsePositiveInt, parseSeeds, parseSmooth } from './args.js';
import type { ViewOptions } from './runs_view.js';

/** Commander collector for repeatable flags. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];


/** Factories, not shared instances: commander keeps per-command state on each Option. */
export const flag = {
  backend: (help = 'tfjs backend') => new Option('--backend <name>', help).choices([...BACKENDS]),
  workers: () => new Option('--workers <n>', `parallel worker threads (default: one per core, here ${defaultWorkers()})`),
  out: (help: string) => new Option('--out <dir>', help),
  seeds: (help = 'a count N (seeds 0..N-1) or a comma list, e.g. 0,4,9') => new Option('--seeds <list>', help),
  seed: (help: string) => new Option('--seed <n>', help),
  steps: (help: string) => new Option('--steps <n>', help),
  quick: (help: string) => new Option('--quick', help),
  spec: () => new Option('--spec <name|path>', 'study spec in experiments/studies/, or a path to one (.ts in a "type": "module" package, or .mts) (default: stability-v3; study v2 is stability)'),
  optimizers: () => new Option('--optimizers <list>', 'optimizer labels from the spec, or registry names, e.g. muon,adamw,normuon'),
  lr: () => new Option('--lr <lr>', 'learning rate for every optimizer, or per label: muon=0.02,adamw=1e-3'),
  precision: () =>
    new Option(
      '--precision <preset>',
      'simulated low-precision training (every matmul quantised, straight-through backward): fp32, bf16, fp8 (E4M3 weights and activations), fp4 (MXFP4 weights, E4M3 activations); overrides the spec',
    ).choices([...PRECISION_PRESET_NAMES]),
  /** `--require FILE`, repeatable, on every command that takes an optimizer name. */
  require: () =>
    new Option('--require <file>', 'load an optimizer variant file (or any module) first; repeatable. Files in optimizers/ load by themselves')
      .argParser(collect)
      .default([]),
  /** `rerun`: how to rerun for a resume ("with the same --out", or "on the same folder"). */
  checkpointEvery: (rerun = 'with the same --out') =>
    new Option(
      '--checkpoint-every <n>',
      `steps between checkpoints of each run (default: about a minute of training, ${AUTO_CHECKPOINT_SECONDS} s); rerun the same command ${rerun} to resume a killed run`,
    ),
  logY: () => new Option('--log-y', 'log-scale loss charts'),
  smooth: () => new Option('--smooth <alpha>', 'EMA smoothing of chart curves, in [0, 1)'),
  width: () => new Option('--width <cols>', 'chart width in columns (default: terminal width)'),
};

/** Add options to a command in order. */
export function withOptions(cmd: Command, ...options: Option[]): Command {
  for (const o of options) cmd.addOption(o);
  return cmd;
}

/** The chart flags of `start`, `run` and `view`. */
export const chartFlags = (): Option[] => [flag.logY(), flag.smooth(), flag.width()];

export interface BackendFlags {
  backend?: string;
}
export interface WorkersFlags {
  workers?: string;
}
/** The flags that change an experiment's runs (`run`, `start`, `slurm run`). */
export interface RunOverrideFlags {
  quick?: boolean;
  steps?: string;
  seeds?: string;
  optimizers?: string;
  lr?: string;
  precision?: string;
}
export interface ChartFlags {
  logY?: boolean;
  smooth?: string;
  width?: string;
}

/** Initialise the backend --backend (or OPT_SANDBOX_BACKEND) asks for, else the best available; announced on stderr. */
export function resolveBackend(flags: BackendFlags): Promise<BackendChoice> {
  return initBackend({ ...(flags.backend !== undefined ? { requested: flags.backend } : {}), log: (l) => console.error(l) });
}

/**
 * For commands that go through several backends (bench, check-optimizer): the one --backend names
 * (an error if it cannot start), else each of `candidates` that starts, skipping the others with a note.
 */
export async function resolveBackends(flags: BackendFlags, candidates: readonly BackendName[], command: string): Promise<BackendName[]> {
  if (flags.backend !== undefined) {
    const b = parseBackendName(flags.backend, '--backend');
    await initBackend({ requested: b });
    return [b];
  }
  const usable: BackendName[] = [];
  for (const b of candidates) {
    try {
      await initBackend({ requested: b });
      usable.push(b);
    } catch {
      console.error(`${command}: backend ${b} not available, skipped`);
    }
  }
  return usable;
}

export function resolveWorkers(flags: WorkersFlags): number {
  return flags.workers !== undefined ? parsePositiveInt('--workers', flags.workers) : defaultWorkers();
}

export function resolveCheckpointEvery(flags: { checkpointEvery?: string }): number | 'auto' {
  return flags.checkpointEvery === undefined ? 'auto' : parsePositiveInt('--checkpoint-every', flags.checkpointEvery);
}

export function resolveRunOverrides(flags: RunOverrideFlags): ResolveOverrides {
  return {
    quick: flags.quick === true,
    ...(flags.steps !== undefined ? { steps: parsePositiveInt('--steps', flags.steps) } : {}),
    ...(flags.seeds !== undefined ? { seeds: parseSeeds(flags.seeds) } : {}),
    ...(flags.optimizers !== undefined ? { optimizers: parseList('--optimizers', flags.optimizers) } : {}),
    ...(flags.lr !== undefined ? { lr: parseLr(flags.lr) } : {}),
    ...(flags.precision !== undefined ? { precision: flags.precision } : {}),
  };
}

export function resolveView(flags: ChartFlags): ViewOptions {
  return {
    logY: flags.logY === true,
    smooth: flags.smooth === undefined ? 0 : parseSmooth(flags.smooth),
    color: useColor(process.stdout),
    ...(flags.width !== undefined ? { width: parsePositiveInt('--width', flags.width) } : {}),
  };
}
