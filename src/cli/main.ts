/**
 * The sandbox CLI. `npm start` runs the main job (Muon vs AdamW on the MNIST MLP and the MoE task);
 * `run` runs any experiments/ spec; `view` re-draws saved runs. Every error that is the user's to
 * fix (flag, spec, path) prints one line and exits with status 2, before any run directory exists.
 */
import { Command, CommanderError, Option } from 'commander';
import { join } from 'node:path';
import { BACKENDS, initBackend, parseBackendName, type BackendName } from '../backend.js';
import { tf } from '../tf.js';
import { cpus } from 'node:os';
import { formatNumber, renderTable } from '../text/table.js';
import { listOptimizers } from '../optimizers/index.js';
import { expandRuns, SpecError, type RunConfig } from '../train/config.js';
import { runDirName } from '../train/run.js';
import { PRECISION_PRESET_NAMES } from '../precision/qat.js';
import { checkDataAvailable } from '../train/build.js';
import { AUTO_CHECKPOINT_SECONDS } from '../train/loop.js';
import { lockFolder } from '../train/lock.js';
import { ensureDir } from '../train/run_files.js';
import { defaultWorkers, RunFailure, runTasks, stopSignal, type RunTask } from '../study/pool.js';
import { OptionError } from '../optimizers/options.js';
import { UsageError, outDir, parseList, parseLr, parsePositiveInt, parseSeeds, parseShard, parseSmooth, timestamp } from './args.js';
import { EXPERIMENTS_DIR, listExperimentNames, loadExperiment, loadExperimentSpec, loadStudy } from './experiments.js';
import { tuneExperiment, gridsFor } from '../study/tune.js';
import { recordPath, type TunedRecord } from '../study/tuned_record.js';
import { ELIGIBILITY_RULE } from '../study/tuning.js';
import { estimateStudy, runStudy, type Shard } from '../study/study.js';
import { analyzeStudy } from '../study/analyze.js';
import { renderReport } from '../study/report.js';
import { mergeStudies } from '../study/merge.js';
import { estimateWallSeconds } from '../study/cost.js';
import { writeFileSync, renameSync, existsSync, statSync, readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ExperimentSpec } from '../train/config.js';
import { createProgress } from './progress.js';
import { findRunDirs, loadRuns, renderRuns, type ViewOptions } from './runs_view.js';
import { useColor } from '../text/chart.js';
import { describeFsError, EnvironmentError, firstLine, OutputPathError } from '../errors.js';
import { writeRunPages, writeStudyPages } from '../figures/pages.js';
import type { WrittenFigure } from '../figures/output.js';
import { loadVariants, ModuleLoadError } from '../variants/modules.js';
import { SCAFFOLD_BASES, ScaffoldError, scaffoldOptimizer } from '../variants/scaffold.js';
import { registerSlurmCommand } from './slurm_command.js';

/** The main job's experiments. */
export const MAIN_EXPERIMENTS = ['mnist-mlp', 'moe-regimes'] as const;

interface RunFlags {
  steps?: string;
  seeds?: string;
  optimizers?: string;
  lr?: string;
  precision?: string;
  backend?: string;
  out?: string;
  quick?: boolean;
  workers?: string;
  logY?: boolean;
  smooth?: string;
  width?: string;
  checkpointEvery?: string;
  require?: string[];
}

/** Commander collector for repeatable flags. */
const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** `--require FILE`, repeatable, on every command that takes an optimizer name. */
function addRequireFlag(cmd: Command): Command {
  return cmd.option(
    '--require <file>',
    'load an optimizer variant file (or any module) first; repeatable. Files in optimizers/ load by themselves',
    collect,
    [],
  );
}

function viewOptions(flags: Pick<RunFlags, 'logY' | 'smooth' | 'width'>): ViewOptions {
  return {
    logY: flags.logY === true,
    smooth: flags.smooth === undefined ? 0 : parseSmooth(flags.smooth),
    color: useColor(process.stdout),
    ...(flags.width !== undefined ? { width: parsePositiveInt('--width', flags.width) } : {}),
  };
}

function addRunFlags(cmd: Command): Command {
  return addRequireFlag(cmd)
    .option('--steps <n>', 'training steps per run (overrides the spec)')
    .option('--seeds <list>', 'a count N (seeds 0..N-1) or a comma list, e.g. 0,4,9')
    .option('--optimizers <list>', 'optimizer labels from the spec, or registry names, e.g. muon,adamw,normuon')
    .option('--lr <lr>', 'learning rate for every optimizer, or per label: muon=0.02,adamw=1e-3')
    .addOption(
      new Option(
        '--precision <preset>',
        'simulated low-precision training (every matmul quantised, straight-through backward): fp32, bf16, fp8 (E4M3 weights and activations), fp4 (MXFP4 weights, E4M3 activations); overrides the spec',
      ).choices([...PRECISION_PRESET_NAMES]),
    )
    .addOption(new Option('--backend <name>', 'tfjs backend (default: tensorflow if installed, else wasm, else cpu; env OPT_SANDBOX_BACKEND)').choices([...BACKENDS]))
    .option('--out <dir>', 'output folder (default: runs/<timestamp>-<name>)')
    .option('--quick', 'a seconds-long smoke version of each experiment')
    .option('--workers <n>', `parallel worker threads (default: one per core, here ${defaultWorkers()})`)
    .option('--log-y', 'log-scale loss charts')
    .option('--smooth <alpha>', 'EMA smoothing of chart curves, in [0, 1)')
    .option('--width <cols>', 'chart width in columns (default: terminal width)')
    .option('--checkpoint-every <n>', CHECKPOINT_HELP);
}

const CHECKPOINT_HELP = `steps between checkpoints of each run (default: about a minute of training, ${AUTO_CHECKPOINT_SECONDS} s); rerun the same command with the same --out to resume a killed run`;

function checkpointEvery(flag: string | undefined): number | 'auto' {
  return flag === undefined ? 'auto' : parsePositiveInt('--checkpoint-every', flag);
}

async function runExperiments(names: readonly string[], flags: RunFlags, defaultName: string): Promise<void> {
  // Everything that can be wrong with the request is checked before any file is written.
  const view = viewOptions(flags);
  // Variants first: --optimizers and the specs may name them.
  await loadVariants(flags.require);
  const overrides = {
    quick: flags.quick === true,
    ...(flags.steps !== undefined ? { steps: parsePositiveInt('--steps', flags.steps) } : {}),
    ...(flags.seeds !== undefined ? { seeds: parseSeeds(flags.seeds) } : {}),
    ...(flags.optimizers !== undefined ? { optimizers: parseList('--optimizers', flags.optimizers) } : {}),
    ...(flags.lr !== undefined ? { lr: parseLr(flags.lr) } : {}),
    ...(flags.precision !== undefined ? { precision: flags.precision } : {}),
  };
  const workers = flags.workers !== undefined ? parsePositiveInt('--workers', flags.workers) : defaultWorkers();
  const every = checkpointEvery(flags.checkpointEvery);
  const configs: RunConfig[] = [];
  for (const name of names) configs.push(...expandRuns(await loadExperiment(name), overrides));
  for (const c of configs) checkDataAvailable(c.data);
  const backend = await initBackend({ ...(flags.backend ? { requested: flags.backend } : {}), log: (l) => console.error(l) });

  const root = outDir(flags.out, join('runs', `${timestamp()}-${defaultName}`));
  ensureDir(root);
  // One writer per folder: a second process on the same --out stops here, naming the holder's pid.
  const lock = lockFolder(root, 'output folder');
  const tasks: RunTask[] = configs.map((config) => ({ config, dir: join(root, runDirName(config)), checkpointEvery: every }));
  console.error(`${tasks.length} runs → ${root} (backend ${backend.name}, ${Math.min(workers, tasks.length)} worker${workers > 1 ? 's' : ''})`);

  const progress = createProgress();
  progress.start(
    tasks.reduce((a, t) => a + t.config.steps, 0),
    tasks.length,
  );
  const started = performance.now();
  await withStopOnSigint(() =>
    runTasks(tasks, workers, {
      onProgress: (i, step, loss) => progress.step(i, step, loss),
      onDone: (s, i) => progress.runDone(i, `${s.experiment}/${s.optimizer}/s${s.seed}`, s.plannedSteps),
    }).finally(() => progress.stop()),
  ).finally(() => lock.release());
  const runs = loadRuns(findRunDirs([root]));
  console.log(renderRuns(runs, view));
  console.log(`\n${runs.length} runs in ${((performance.now() - started) / 1000).toFixed(1)} s → ${root}`);
  const page = join(root, RUNS_HTML);
  reportWarnings(await writeRunPages(runs, { html: page }));
  console.log(`figures: ${resolve(page)}`);
  if (defaultName === 'main') {
    // The language model takes minutes per run, too long for the main job's 3-minute budget.
    console.log('the tiny MoE language model on the Brown Corpus (minutes per run): npm run exp:lm  (a smoke version: npm run exp:lm -- --quick)');
  }
  if (stopSignal.requested) {
    console.log(`interrupted: unfinished runs have metrics and a checkpoint but no summary.json; to resume them, rerun with --out ${root}`);
    process.exitCode = 130;
  }
}

interface StudyFlags {
  quick?: boolean;
  spec?: string;
  out?: string;
  workers?: string;
  shard?: string;
  backend?: string;
  require?: string[];
  checkpointEvery?: string;
}

function withStopOnSigint<T>(work: () => Promise<T>): Promise<T> {
  const onSigint = () => {
    if (stopSignal.requested) process.exit(130);
    stopSignal.requested = true;
    console.error('\nstopping after the current step (Ctrl-C again to quit now); finished runs are kept');
  };
  process.on('SIGINT', onSigint);
  return work().finally(() => process.off('SIGINT', onSigint));
}

async function studyCommand(flags: StudyFlags): Promise<void> {
  const workers = flags.workers !== undefined ? parsePositiveInt('--workers', flags.workers) : defaultWorkers();
  const shard: Shard | undefined = flags.shard !== undefined ? parseShard(flags.shard) : undefined;
  await loadVariants(flags.require);
  const every = checkpointEvery(flags.checkpointEvery);
  const study = await loadStudy(flags.spec ?? 'stability', flags.quick === true);
  const experiments = new Map<string, ExperimentSpec>();
  // The study tunes every LR itself: it scales the specs as written, not the recorded tunings.
  for (const t of study.tasks) experiments.set(t.experiment, await loadExperimentSpec(t.experiment));
  for (const e of experiments.values()) checkDataAvailable(e.data);
  const backend = await initBackend({ ...(flags.backend ? { requested: flags.backend } : {}), log: (l) => console.error(l) });
  const fallback = join('runs', shard ? `${study.name}-shard-${shard.index}-of-${shard.count}` : study.name);
  const dir = outDir(flags.out, fallback);
  ensureDir(dir);
  console.error(
    `study ${study.name}${shard ? ` (shard ${shard.index}/${shard.count})` : ''} → ${dir} (backend ${backend.name}, ${workers} worker${workers > 1 ? 's' : ''}); rerun the same command to resume`,
  );
  const estimate = estimateStudy(study, experiments, { workers, ...(shard ? { shard } : {}) });
  const min = (s: number) => (s < 60 ? `${Math.ceil(s)} s` : `${(s / 60).toFixed(1)} min`);
  console.error(
    `estimated wall time: ${min(estimate.total)} for ${estimate.runs} runs (tuning ${min(estimate.tune)}, stress ${min(estimate.stress)}, arms ≤ ${min(estimate.arms)}; ` +
      `FLOP model on ${workers} worker${workers > 1 ? 's' : ''}, before skipping finished runs; diverged runs end early)`,
  );
  const started = performance.now();
  let progress = createProgress();
  const result = await withStopOnSigint(() =>
    runStudy(study, experiments, dir, {
      workers,
      checkpointEvery: every,
      ...(shard ? { shard } : {}),
      events: {
        onPhase: (phase, runs, skipped, steps, estimates) => {
          progress.stop();
          const secs = estimates ? estimates.map((e) => e.seconds) : [];
          console.error(
            `${phase}: ${runs} runs to do${skipped ? `, ${skipped} already complete` : ''}${runs ? ` (estimated ${min(estimateWallSeconds(secs, workers))})` : ''}`,
          );
          progress = createProgress();
          progress.start(steps, runs, estimates);
        },
        onProgress: (i, step, loss) => progress.step(i, step, loss),
        onDone: (s, i) => progress.runDone(i, `${s.experiment}/${s.optimizer}/s${s.seed}`, s.plannedSteps),
      },
    }).finally(() => progress.stop()),
  );
  const minutes = ((performance.now() - started) / 60000).toFixed(1);
  if (stopSignal.requested) {
    console.log(`interrupted after ${minutes} min; rerun the same command to resume (finished runs are skipped)`);
    process.exitCode = 130;
    return;
  }
  for (const [key, lr] of result.tuned) console.log(`tuned LR ${key.replace('\u0000', '/')}: ${lr}`);
  for (const [task, ms] of result.armMultipliers) console.log(`arms on ${task} at ${ms.map((m) => `${m}×`).join(', ')} (where either optimizer first fails)`);
  console.log(`done in ${minutes} min: ${result.tuning.length} tuning + ${result.stress.length} stress + ${result.arms.length} arm runs in ${dir}`);
  console.log(shard ? `merge the shards with: npm run merge -- <shard dirs> --out DIR` : `report: npm run report -- ${dir}`);
}

interface TuneFlags {
  seeds?: string;
  workers?: string;
  out?: string;
  record?: string;
  backend?: string;
  require?: string[];
}

async function tuneCommand(name: string, flags: TuneFlags): Promise<void> {
  const workers = flags.workers !== undefined ? parsePositiveInt('--workers', flags.workers) : defaultWorkers();
  // The experiment may name variants from optimizers/ or a --require file.
  await loadVariants(flags.require);
  const study = await loadStudy('stability', false);
  const seeds = flags.seeds !== undefined ? parseSeeds(flags.seeds) : study.seeds;
  // The spec as written: its LRs anchor the grid; a record's LRs never feed back into a tuning.
  const spec = await loadExperimentSpec(name);
  const grids = gridsFor(spec, study.tune.grid);
  checkDataAvailable(spec.data);
  const backend = await initBackend({ ...(flags.backend ? { requested: flags.backend } : {}), log: (l) => console.error(l) });
  const runsDir = outDir(flags.out, join('runs', `tune-${spec.name}`));
  const recordFile = flags.record !== undefined ? outDir(flags.record, '') : recordPath(EXPERIMENTS_DIR, spec.name);
  const runs = Object.values(grids).reduce((a, g) => a + g.length, 0) * seeds.length;
  console.error(
    `tune ${spec.name}: ${Object.entries(grids).map(([l, g]) => `${l} ${g.length} LRs`).join(', ')} × ${seeds.length} seeds = ${runs} runs of ${spec.steps} steps → ${runsDir} (backend ${backend.name}, ${workers} worker${workers > 1 ? 's' : ''}); rerun the same command to resume`,
  );
  let progress = createProgress();
  const record = await withStopOnSigint(() =>
    tuneExperiment(spec, {
      grids,
      seeds,
      runsDir,
      recordFile,
      workers,
      command: `npm run tune -- ${name}${flags.seeds !== undefined ? ` --seeds ${flags.seeds}` : ''}`,
      events: {
        onPhase: (_phase, todo, skipped, steps) => {
          if (skipped) console.error(`${todo} runs to do, ${skipped} already complete`);
          progress = createProgress();
          progress.start(steps, todo);
        },
        onProgress: (i, step, loss) => progress.step(i, step, loss),
        onDone: (s, i) => progress.runDone(i, `${s.optimizer}×${formatNumber(s.lrScale)}/s${s.seed}`, s.plannedSteps),
      },
    }).finally(() => progress.stop()),
  );
  if (!record) {
    console.log('interrupted; rerun the same command to resume (finished runs are skipped)');
    process.exitCode = 130;
    return;
  }
  console.log(renderTuning(record));
  console.log(`\nwritten: ${recordFile} (${record.wallSeconds} s)`);
}

/** The tuned LRs and the grids that decided them. */
export function renderTuning(record: TunedRecord): string {
  const rows = Object.entries(record.optimizers).map(([label, t]) => [
    label,
    `${formatNumber(t.tuned.lr)}${t.atGridEdge ? ' (grid edge)' : ''}${t.noEligibleLr ? ' (no LR free of divergence)' : ''}`,
    formatNumber(t.tuned.medianEvalLoss),
    t.best.lr === t.tuned.lr ? 'same' : `${formatNumber(t.best.lr)}: ${formatNumber(t.best.medianEvalLoss)} (not eligible)`,
    Object.entries(t.groupLrs).map(([g, lr]) => `${g} ${formatNumber(lr)}`).join(', '),
    t.grid.map((g) => `${formatNumber(g.lr)}: ${formatNumber(g.medianEvalLoss)}${g.diverged ? ` (${g.diverged}/${g.n} div)` : ''}`).join('; '),
  ]);
  return [
    `${record.experiment}: ${record.steps} steps, seeds ${record.seeds.join(',')}, backend ${record.backend}`,
    renderTable(['optimizer', 'tuned LR', 'median eval loss', 'best-scoring LR', 'group LRs used', 'grid (LR: median final eval loss)'], rows),
    `Rule: ${ELIGIBILITY_RULE}.`,
  ].join('\n');
}

interface BenchFlags {
  quick?: boolean;
  json?: string;
  backend?: string;
}

async function benchCommand(flags: BenchFlags): Promise<void> {
  const { benchBackend, checkTargets } = await import('../bench/bench.js');
  const backends: BackendName[] = flags.backend ? [parseBackendName(flags.backend, '--backend')] : [];
  if (backends.length === 0) {
    for (const b of BACKENDS) {
      try {
        await initBackend({ requested: b });
        backends.push(b);
      } catch {
        console.error(`bench: backend ${b} not available, skipped`);
      }
    }
  }
  const experiments = {
    mlp: await loadExperiment('mnist-mlp'),
    moe: await loadExperiment('moe-regimes'),
    lmDense: await loadExperiment('lm-brown'),
    lmMoe: await loadExperiment('lm-moe'),
  };
  const results = [];
  for (const b of backends) {
    const r = await benchBackend(b, { quick: flags.quick === true, experiments, log: (l) => console.error(l) });
    results.push(r);
    console.log(`\n## ${b}: matmul ${r.matmulGflops.toFixed(1)} GFLOP/s (${r.matmulShapes.map((s) => `${s.shape}: ${s.gflops.toFixed(1)}`).join(', ')})\n`);
    console.log(
      renderTable(
        ['model', 'optimizer', 'step ms (median)', 'q1–q3', 'FLOPs', 'matmul rate', 'efficiency'],
        r.cases.map((c) => [
          c.model,
          c.optimizer,
          c.stepMs.toFixed(2),
          `${c.spread.q1.toFixed(2)}–${c.spread.q3.toFixed(2)}`,
          `${(c.flops / 1e6).toFixed(1)} M`,
          `${c.rateGflops.toFixed(1)} GFLOP/s`,
          `${c.efficiency.toFixed(2)}×`,
        ]),
      ),
    );
    console.log('');
    console.log(
      renderTable(
        ['LM', 'matmuls/step', 'counted FLOPs', 'rate (all)', '2-D', 'batched (attention)', 'batched share', 'matmul time'],
        r.lmMatmuls.map((m) => [
          m.model,
          String(m.kernels),
          `${(m.countedFlops / 1e6).toFixed(1)} M`,
          `${m.gflops.toFixed(1)} GFLOP/s`,
          `${m.gflops2d.toFixed(1)}`,
          `${m.gflopsBatched.toFixed(1)}`,
          `${(100 * m.batchedShare).toFixed(0)}%`,
          `${m.matmulMs.toFixed(1)} ms`,
        ]),
      ),
    );
    console.log('');
    console.log(
      renderTable(
        ['model', 'optimizer', 'precision', 'step ms (median)', '÷ fp32 step'],
        r.precision.map((c) => ['mlp', c.optimizer, c.precision, c.stepMs.toFixed(2), `${c.overFp32.toFixed(2)}×`]),
      ),
    );
    console.log('');
    console.log(
      renderTable(
        ['figure', 'value'],
        [
          ...r.muonOverAdamw.map((m) => [`Muon/AdamW step (${m.model})`, `${m.measured.toFixed(2)} measured, ${m.flopModel.toFixed(2)} FLOP model`]),
          ['Newton–Schulz 784×256', `${r.nsGflops.toFixed(1)} GFLOP/s (${(100 * r.nsOverMatmul).toFixed(0)}% of matmul)`],
          ['tensor growth, 1000 steps', `${r.tensorGrowth} (${Object.entries(r.tensorGrowthByOptimizer).map(([k, v]) => `${k} ${v}`).join(', ')})`],
          ['tensor growth, LMs at tiny dims', Object.entries(r.lmTensorGrowth).map(([k, v]) => `${k} ${v}`).join(', ')],
          ...r.stateBytes.map((s) => [`state bytes ${s.optimizer}`, `${s.measured} measured, ${s.theory} theory`]),
          [
            'study throughput',
            `${r.throughput.workers1.toFixed(1)} runs/min (1 worker), ${r.throughput.workersAll.toFixed(1)} (${r.throughput.workers} workers); ` +
              `median of ${r.throughput.rounds} rounds of ${r.throughput.runs} runs × ${r.throughput.stepsPerRun} steps of ${r.throughput.tasks.join(', ')}`,
          ],
          ['bench time', `${r.seconds.toFixed(0)} s`],
        ],
      ),
    );
    if (b === 'wasm') {
      console.log('\nTargets (wasm):\n');
      console.log(renderTable(['target', 'value', 'met'], checkTargets(r).map((t) => [t.target, t.value, t.pass ? 'yes' : 'NO'])));
    }
  }
  if (flags.json) {
    writeFileSync(`${flags.json}.tmp`, `${JSON.stringify({ machine: machineInfo(), quick: flags.quick === true, backends: results }, null, 2)}\n`);
    renameSync(`${flags.json}.tmp`, flags.json);
    console.error(`written: ${flags.json}`);
  }
}

interface CheckFlags {
  require?: string[];
  options?: string;
  backend?: string;
}

async function checkOptimizerCommand(name: string, flags: CheckFlags): Promise<void> {
  await loadVariants(flags.require);
  let options: Record<string, unknown> = {};
  if (flags.options !== undefined) {
    try {
      options = JSON.parse(flags.options) as Record<string, unknown>;
    } catch (e) {
      throw new UsageError(`--options ${JSON.stringify(flags.options)}: not JSON (${(e as Error).message})`);
    }
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw new UsageError(`--options ${JSON.stringify(flags.options)}: expected a JSON object of option values`);
    }
  }
  const { checkOptimizer, formatConformance } = await import('../variants/conformance.js');
  const requested: BackendName[] = flags.backend ? [parseBackendName(flags.backend, '--backend')] : ['wasm', 'cpu'];
  const backends: BackendName[] = [];
  for (const b of requested) {
    try {
      await initBackend({ requested: b });
      backends.push(b);
    } catch (e) {
      if (flags.backend) throw e;
      console.error(`check-optimizer: backend ${b} not available, skipped`);
    }
  }
  const report = await checkOptimizer(name, { options, backends });
  console.log(formatConformance(report));
  if (!report.passed) process.exitCode = 1;
}

function machineInfo(): Record<string, unknown> {
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, node: process.version, tfjs: tf.version.tfjs, platform: process.platform };
}

/** The page `start` and `run` write next to their runs. */
export const RUNS_HTML = 'runs.html';

/** A figure that renders with warnings is still written; the warnings go to stderr. */
function reportWarnings(written: readonly WrittenFigure[]): void {
  for (const w of written) for (const msg of w.warnings) console.error(`figure ${w.figure.id}: ${msg}`);
}

interface ExportFlags {
  out: string;
  seed?: string;
  steps?: string;
  backend?: string;
}

function parseTemperature(v: string): number {
  const t = Number(v);
  if (v.trim() === '' || !Number.isFinite(t) || t < 0) throw new UsageError(`--temperature ${JSON.stringify(v)}: expected a number ≥ 0`);
  return t;
}

async function exportCommand(name: string, flags: ExportFlags): Promise<void> {
  const seed = flags.seed === undefined ? 0 : parseSeeds(`${flags.seed},`)[0]!;
  await loadVariants(); // an experiment may name a variant from optimizers/
  const spec = await loadExperiment(name);
  const runs = expandRuns(spec, { seeds: [seed], ...(flags.steps !== undefined ? { steps: parsePositiveInt('--steps', flags.steps) } : {}) });
  const dir = resolve(flags.out);
  if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0)) {
    throw new UsageError(`--out ${flags.out}: exists and is not an empty folder`);
  }
  checkDataAvailable(spec.data);
  const backend = await initBackend({ ...(flags.backend ? { requested: flags.backend } : {}), log: (l) => console.error(l) });
  const { exportRun } = await import('../interop/export.js');
  const manifest = exportRun(runs, dir, backend.name);
  console.log(
    `exported ${manifest.experiment} seed ${seed}: ${manifest.weights.length} weights, ${manifest.batches.shape[0]} steps of batch order, ` +
      `${Object.keys(manifest.data).filter((k) => /_(x|y|ids|offsets)$/.test(k)).length} data arrays, ${manifest.runs.length} configs → ${join(dir, 'manifest.json')}`,
  );
}

async function reportCommand(dir: string): Promise<void> {
  if (!existsSync(dir)) throw new UsageError(`${dir}: no such folder`);
  let results;
  try {
    results = analyzeStudy(dir);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const pages = await writeStudyPages(dir, results);
  reportWarnings(pages.written);
  const text = renderReport(results, pages.markdown);
  const path = join(dir, 'REPORT.md');
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
  console.log(text);
  console.error(`written: ${path}, ${pages.htmlPath} and ${pages.written.length} figures in ${join(dir, 'figures')}`);
}

interface ViewFlags extends RunFlags {
  html?: string;
  svg?: string;
}

async function viewCommand(dirs: readonly string[], flags: ViewFlags): Promise<void> {
  const view = viewOptions(flags);
  // Checked before anything is written: the page's folder must exist, an SVG folder must not be a file.
  if (flags.html !== undefined && !(existsSync(dirname(resolve(flags.html))) && statSync(dirname(resolve(flags.html))).isDirectory())) {
    throw new UsageError(`--html ${flags.html}: folder ${dirname(flags.html)} does not exist`);
  }
  if (flags.html !== undefined && existsSync(flags.html) && statSync(flags.html).isDirectory()) {
    throw new UsageError(`--html ${flags.html}: is a folder; give a file name, e.g. ${join(flags.html, 'runs.html')}`);
  }
  if (flags.svg !== undefined && existsSync(flags.svg) && !statSync(flags.svg).isDirectory()) {
    throw new UsageError(`--svg ${flags.svg}: exists and is not a folder`);
  }
  const runs = loadRuns(findRunDirs(dirs));
  console.log(renderRuns(runs, view));
  if (flags.html === undefined && flags.svg === undefined) return;
  const written = await writeRunPages(runs, { ...(flags.html !== undefined ? { html: flags.html } : {}), ...(flags.svg !== undefined ? { svgDir: flags.svg } : {}) });
  reportWarnings(written);
  if (flags.html !== undefined) console.error(`written: ${resolve(flags.html)}`);
  if (flags.svg !== undefined) console.error(`written: ${written.length} SVG figures in ${flags.svg}`);
}

export function buildProgram(): Command {
  const program = new Command()
    .name('optimizer-sandbox')
    .description(
      'Muon vs AdamW (and your own variants) on small MLPs and tiny MoE layers: loss curves, loss spikes, divergence.',
    )
    .showSuggestionAfterError()
    // Throw instead of process.exit (inherited by the subcommands below), so main() maps usage errors to 2.
    .exitOverride();

  addRunFlags(
    program
      .command('start')
      .description(`the main job: ${MAIN_EXPERIMENTS.join(' and ')}, Muon vs AdamW, 3 seeds, charts and a summary table`),
  ).action((flags: RunFlags) => runExperiments(MAIN_EXPERIMENTS, flags, 'main'));

  addRunFlags(
    program
      .command('run')
      .description('run experiments from experiments/ by name (see `list`) or by path to a spec file')
      .argument('<experiments...>', 'experiment names or .ts spec paths'),
  ).action((names: string[], flags: RunFlags) => runExperiments(names, flags, names.join('+').replace(/[^a-z0-9+-]/gi, '_')));

  program
    .command('view')
    .description('re-draw saved runs (run folders, or folders containing them) without training')
    .argument('<dirs...>', 'run directories or their parent folders')
    .option('--log-y', 'log-scale loss charts')
    .option('--smooth <alpha>', 'EMA smoothing of chart curves, in [0, 1)')
    .option('--width <cols>', 'chart width in columns (default: terminal width)')
    .option('--html <file>', 'also write one self-contained interactive HTML page of the figures (opens offline)')
    .option('--svg <dir>', 'also write each figure as an SVG file into this folder (created if missing)')
    .action((dirs: string[], flags: ViewFlags) => viewCommand(dirs, flags));

  addRequireFlag(program.command('study'))
    .description('the stability study: LR tuning per optimizer; spikes (whole run and last half), divergence and failure at 1–8× the tuned LR; then the arms (e.g. muon-match-rms) where either optimizer first fails. Prints a wall-time estimate (FLOP model) first; the progress ETA is cost-weighted')
    .option('--quick', 'the same pipeline with a small grid and short horizons (minutes)')
    .option('--spec <name|path>', 'study spec in experiments/studies/ (default: stability)')
    .option('--out <dir>', 'study folder (default: runs/<study name>); rerunning resumes it')
    .option('--workers <n>', `parallel worker threads (default: one per core, here ${defaultWorkers()})`)
    .option('--shard <i/n>', 'run only the i-th of n deterministic shares (merge them with `merge`)')
    .addOption(new Option('--backend <name>', 'tfjs backend').choices([...BACKENDS]))
    .option('--checkpoint-every <n>', CHECKPOINT_HELP.replace('with the same --out', 'on the same folder'))
    .action((flags: StudyFlags) => studyCommand(flags));

  addRequireFlag(program.command('tune'))
    .description(
      "tune each optimizer's LR for one experiment (the study's grids, seeds and rule; the experiment's own steps and schedule) and record it in experiments/tuned/<experiment>.json, where the experiment takes its default LRs from",
    )
    .argument('<experiment>', 'experiment name in experiments/')
    .option('--seeds <list>', "a count N (seeds 0..N-1) or a comma list (default: the study's 5 seeds, 0..4)")
    .option('--workers <n>', `parallel worker threads (default: one per core, here ${defaultWorkers()})`)
    .option('--out <dir>', 'folder for the tuning runs (default: runs/tune-<experiment>); rerunning resumes it')
    .option('--record <file>', 'write the record here instead of experiments/tuned/<experiment>.json')
    .addOption(new Option('--backend <name>', 'tfjs backend').choices([...BACKENDS]))
    .action((name: string, flags: TuneFlags) => tuneCommand(name, flags));

  program
    .command('report')
    .description('analyse a study folder: write REPORT.md, figures/*.svg and the self-contained report.html into it; print REPORT.md')
    .argument('<dir>', 'study folder')
    .action((dir: string) => reportCommand(dir));

  program
    .command('merge')
    .description('join shard outputs of one study into one study folder')
    .argument('<dirs...>', 'shard study folders')
    .requiredOption('--out <dir>', 'merged study folder')
    .option('--force', 'merge shards computed on different backends or git commits (refused by default: their numbers differ)')
    .action((dirs: string[], flags: { out: string; force?: boolean }) => {
      try {
        const r = mergeStudies(dirs, flags.out, { force: flags.force === true });
        console.log(`merged ${dirs.length} folders → ${flags.out}: ${r.copied} runs, ${r.duplicates} duplicates kept once, ${r.unfinishedSkipped} unfinished skipped`);
      } catch (e) {
        // A busy folder or a full disk is the machine's, not a usage error: keep its exit status.
        if (e instanceof EnvironmentError || e instanceof OutputPathError) throw e;
        throw new UsageError((e as Error).message);
      }
    });

  program
    .command('bench')
    .description(
      'benchmark each available backend: matmul rate, step times vs the FLOP model (MLP, MoE, and the dense and MoE transformer LMs against the rate of their own matmuls), MLP step per precision preset vs fp32, Newton–Schulz, state bytes, tensor growth, throughput',
    )
    .option('--quick', 'fewer repetitions and shorter throughput runs; on cpu, no LM cases (≈ 4 min on wasm, 3.3 min on cpu)')
    .option('--json <file>', 'also write the figures as JSON')
    .addOption(new Option('--backend <name>', 'only this backend').choices([...BACKENDS]))
    .action((flags: BenchFlags) => benchCommand(flags));

  addRequireFlag(
    program
      .command('check-optimizer')
      .description('the conformance kit: run every generic check the shipped optimizers pass on one optimizer, on wasm and cpu')
      .argument('<name>', 'a registered optimizer, e.g. one defined in optimizers/ or in a --require file'),
  )
    .option('--options <json>', 'build the optimizer with these options in every check, e.g. \'{"learningRate":1e-3}\'')
    .addOption(new Option('--backend <name>', 'only this backend (default: wasm and cpu)').choices([...BACKENDS]))
    .action((name: string, flags: CheckFlags) => checkOptimizerCommand(name, flags));

  program
    .command('new-optimizer')
    .description('write a commented optimizer variant file and its test (the conformance kit), ready to edit')
    .argument('<name>', 'the new optimizer\'s registry name, e.g. my-muon')
    .addOption(new Option('--from <base>', 'the optimizer it starts as').choices([...SCAFFOLD_BASES]).default('muon'))
    .option('--dir <dir>', 'folder for the two files (default: optimizers/, which every command loads by itself)')
    .action(async (name: string, flags: { from: string; dir?: string }) => {
      // Existing variants first, so a name clash is caught.
      await loadVariants();
      const r = scaffoldOptimizer({ name, from: flags.from, ...(flags.dir !== undefined ? { dir: flags.dir } : {}) });
      console.log(`written: ${r.variantFile}\nwritten: ${r.testFile}`);
      if (r.packageJson) console.log(`written: ${r.packageJson} ({"type": "module"}: .ts files there load as ES modules)`);
      console.log(`\nedit the plan in ${r.variantFile}, then:\n${r.next.map((c) => `  ${c}`).join('\n')}`);
    });

  program
    .command('export')
    .description('write a run\'s starting point for other frameworks: initial weights, batch order, data (.npy) and the resolved config (manifest.json)')
    .argument('<experiment>', 'experiment name or .ts spec path')
    .requiredOption('--out <dir>', 'folder to write (must be empty or absent)')
    .option('--seed <n>', 'run seed (default 0)')
    .option('--steps <n>', 'how many steps of batch order to write (default: the spec\'s steps)')
    .addOption(new Option('--backend <name>', 'tfjs backend used to build the initial weights').choices([...BACKENDS]))
    .action((name: string, flags: ExportFlags) => exportCommand(name, flags));

  program
    .command('sample')
    .description('print text from a trained language-model run (its final checkpoint): the prompt and its seeded continuation')
    .argument('<run-dir>', 'a run folder of an LM experiment (lm-brown, lm-moe), e.g. runs/<stamp>/lm-moe__muon__s0')
    .option('--length <n>', 'characters to generate (default 300)')
    .option('--prompt <text>', 'text to continue (default "The ")')
    .option('--temperature <t>', 'softmax temperature; 0 = always the most likely character (default 0.8)')
    .option('--seed <n>', 'sampling seed (default 0)')
    .addOption(new Option('--backend <name>', 'tfjs backend').choices([...BACKENDS]))
    .action(async (dir: string, flags: { length?: string; prompt?: string; temperature?: string; seed?: string; backend?: string }) => {
      const options = {
        ...(flags.length !== undefined ? { length: parsePositiveInt('--length', flags.length) } : {}),
        ...(flags.prompt !== undefined ? { prompt: flags.prompt } : {}),
        ...(flags.temperature !== undefined ? { temperature: parseTemperature(flags.temperature) } : {}),
        ...(flags.seed !== undefined ? { seed: parseSeeds(`${flags.seed},`)[0]! } : {}),
      };
      if (!existsSync(resolve(dir))) throw new UsageError(`${dir}: no such run folder`);
      await initBackend({ ...(flags.backend ? { requested: flags.backend as (typeof BACKENDS)[number] } : {}), log: (l) => console.error(l) });
      const { sampleText } = await import('../train/sample.js');
      console.log(sampleText(resolve(dir), options));
    });

  addRequireFlag(
    program.command('list').description('list the experiments and the registered optimizers (with optimizers/ and --require files) and their defaults'),
  ).action(async (flags: { require?: string[] }) => {
    await loadVariants(flags.require);
    console.log(`experiments (experiments/*.ts): ${listExperimentNames().join(', ')}\n`);
    for (const o of listOptimizers()) {
      console.log(`${o.name} (${o.className}): ${o.description}`);
      for (const opt of o.options) console.log(`  ${opt.name} = ${JSON.stringify(opt.default)}  — ${opt.doc}`);
    }
  });

  registerSlurmCommand(program, { report: reportCommand });
  return program;
}

/**
 * Errors the user can fix print one line and exit 2; faults of the machine (full disk, no
 * permission, a missing package) print one line and exit 1; anything else is a bug and keeps its
 * stack (exit 1).
 */
export function describeError(e: unknown): { line: string; userError: boolean; status: 1 | 2 } {
  if (e instanceof EnvironmentError) return { line: firstLine(e.message), userError: false, status: 1 };
  if (e instanceof RunFailure) return { line: firstLine(e.message), userError: e.status === 2, status: e.status };
  if (e instanceof UsageError || e instanceof SpecError || e instanceof OptionError || e instanceof OutputPathError || e instanceof ModuleLoadError || e instanceof ScaffoldError) {
    return { line: firstLine(e.message), userError: true, status: 2 };
  }
  const fsFault = describeFsError(e);
  if (fsFault) return { line: fsFault.line, userError: fsFault.status === 2, status: fsFault.status };
  const err = e as Error;
  if (typeof err?.message === 'string' && /backend ".*" .*not available|unknown backend/.test(err.message)) {
    return { line: err.message, userError: true, status: 2 };
  }
  return { line: err?.stack ?? String(e), userError: false, status: 1 };
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv as string[], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    // Commander has already printed its one-line error (or the help); --help and --version are not errors.
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    const { line, status } = describeError(e);
    console.error(`error: ${line}`);
    return status;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // Exit explicitly: the wasm backend keeps handles that would otherwise hold the process open.
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
