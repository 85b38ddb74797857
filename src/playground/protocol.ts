/**
 * Messages between the playground page and its training worker. The page holds only UI: every
 * number, figure spec and run file is made in the worker by the project's own modules, so these
 * types are plain data (no imports of tfjs code here: the page bundle must stay small).
 */

/** Backends the page offers. 'auto' takes wasm first: it is the one whose numbers match the CLI bit for bit. */
export const PLAYGROUND_BACKENDS = ['auto', 'wasm', 'webgl', 'cpu'] as const;
export type PlaygroundBackend = (typeof PLAYGROUND_BACKENDS)[number];

export const LR_MULTIPLIERS = [1, 2, 4, 8] as const;
export const MAX_SEEDS = 5;
export const MAX_STEPS = 5000;

export interface OptimizerChoice {
  /** The spec's label, or a registry name the spec does not use. */
  readonly label: string;
  /** Registry name of the optimizer class. */
  readonly name: string;
  /** Main learning rate as `npm run sandbox -- run` resolves it (tuned record, spec, or optimizer default). */
  readonly defaultLr: number;
  /** Where that LR comes from (the run's lrSource). */
  readonly lrSource: string;
  readonly inSpec: boolean;
}

export interface ExperimentInfo {
  readonly name: string;
  readonly description: string;
  readonly defaultSteps: number;
  readonly data: 'mnist' | 'brown' | 'synthetic';
  readonly optimizers: readonly OptimizerChoice[];
}

/** What the visitor asked for, already checked by the page. */
export interface PlayRequest {
  readonly experiment: string;
  readonly steps: number;
  readonly seeds: number;
  /** Chosen labels in order; each with its final main LR (default × multiplier, or typed). */
  readonly optimizers: readonly { readonly label: string; readonly lr: number }[];
}

export interface RunFiles {
  readonly name: string;
  readonly config: string;
  readonly metrics: string;
  readonly summary: string | null;
}

export interface SummaryRow {
  readonly cells: readonly string[];
}

export type ToWorker =
  | { readonly type: 'init'; readonly backend: PlaygroundBackend; readonly assets: string }
  | { readonly type: 'start'; readonly request: PlayRequest }
  | { readonly type: 'pause' }
  | { readonly type: 'resume' }
  | { readonly type: 'reset' }
  /** Saved run folders the visitor opened (a study's runs/, or the files downloaded here): show them. */
  | { readonly type: 'view'; readonly runs: readonly OpenedRun[] }
  /** A published results bundle (src/study/bundle.ts): its bundle.json and its decompressed runs file, as text. */
  | { readonly type: 'bundle'; readonly name: string; readonly header: string; readonly runs: string };

/** One opened run folder's files, as text. */
export interface OpenedRun {
  readonly dir: string;
  readonly config: string;
  readonly metrics: string;
  readonly summary: string | null;
}

export interface Progress {
  readonly stepsDone: number;
  readonly stepsTotal: number;
  readonly runsDone: number;
  readonly runsTotal: number;
  readonly current: string;
  readonly etaSeconds: number | null;
}

export type FromWorker =
  | { readonly type: 'ready'; readonly backend: string; readonly experiments: readonly ExperimentInfo[]; readonly tfjs: string }
  | { readonly type: 'status'; readonly text: string }
  | {
      readonly type: 'update';
      readonly progress: Progress;
      /** Vega-Lite specs from src/figures (runFigures), recomputed from all records so far. */
      readonly figures: readonly { readonly id: string; readonly title: string; readonly caption: string; readonly spec: unknown }[];
      readonly summary: { readonly headers: readonly string[]; readonly rows: readonly SummaryRow[] };
    }
  | { readonly type: 'paused'; readonly step: number }
  | { readonly type: 'resumed' }
  | { readonly type: 'finished'; readonly files: readonly RunFiles[]; readonly stopped: boolean }
  | { readonly type: 'error'; readonly message: string };

/**
 * The CLI command that makes the same runs: `--lr` only for the LRs the visitor changed, so the
 * run files' lrSource (a label, not part of the config hash) also matches.
 */
export function cliCommand(request: PlayRequest, info: ExperimentInfo, backend: string): string {
  const changed = request.optimizers.filter((o) => info.optimizers.find((c) => c.label === o.label)?.defaultLr !== o.lr);
  const parts = [
    'npm run sandbox -- run',
    request.experiment,
    `--steps ${request.steps}`,
    `--seeds ${request.seeds}`,
    `--optimizers ${request.optimizers.map((o) => o.label).join(',')}`,
    ...(changed.length ? [`--lr ${changed.map((o) => `${o.label}=${o.lr}`).join(',')}`] : []),
    `--backend ${backend === 'wasm' || backend === 'cpu' ? backend : 'wasm'}`,
  ];
  return parts.join(' ');
}
