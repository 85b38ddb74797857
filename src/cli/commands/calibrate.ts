/** `calibrate`: inject known spikes into clean runs of one study task, score the spike detectors and fix their thresholds (src/study/calibration.ts). */
import { Option } from 'commander';
import { join } from 'node:path';
import { loadExperiment, loadStudy } from '../../catalog/experiments.js';
import { renderCalibration, runCalibration, studySized } from '../../study/calibrate.js';
import { calibrationSeeds, DEFAULT_DETECTION_WINDOW, DEFAULT_LR_FACTOR, defaultInjections } from '../../study/calibration.js';
import { taskOf } from '../../study/protocol.js';
import { count } from '../../text/plural.js';
import { checkDataAvailable } from '../../train/build.js';
import { injectionProblem } from '../../train/inject.js';
import { loadVariants } from '../../variants/modules.js';
import { outDir, parsePositiveInt, UsageError } from '../args.js';
import { flag, resolveBackend, resolveWorkers, withOptions, type BackendFlags, type WorkersFlags } from '../flags.js';
import { createProgress } from '../progress.js';
import { INTERRUPTED, progressEvents, withGracefulStop, type ExitStatus, type RegisterCommand } from '../session.js';

interface CalibrateFlags extends BackendFlags, WorkersFlags {
  seeds?: string;
  steps?: string;
  lrFactor?: string;
  window?: string;
  study?: string;
  out?: string;
  require?: string[];
}

/** The study whose task sizes and optimizer pair the calibration uses. */
const DEFAULT_STUDY = 'stability';
/** Below this the 40 % injection would fall inside the z-score detector's 50-value warm-up. */
const MIN_STEPS = 150;

async function calibrateCommand(name: string, flags: CalibrateFlags): Promise<ExitStatus> {
  const workers = resolveWorkers(flags);
  await loadVariants(flags.require);
  const study = await loadStudy(flags.study ?? DEFAULT_STUDY, false);
  const n = flags.seeds !== undefined ? parsePositiveInt('--seeds', flags.seeds) : 3;
  const steps = flags.steps !== undefined ? parsePositiveInt('--steps', flags.steps) : 300;
  if (steps < MIN_STEPS) throw new UsageError(`--steps ${steps}: at least ${MIN_STEPS}, so every injection falls after the detectors' warm-up`);
  const lrFactor = flags.lrFactor !== undefined ? Number(flags.lrFactor) : DEFAULT_LR_FACTOR;
  if (!(lrFactor > 0 && Number.isFinite(lrFactor))) throw new UsageError(`--lr-factor ${JSON.stringify(flags.lrFactor)}: expected a number > 0`);
  const window = flags.window !== undefined ? parsePositiveInt('--window', flags.window) : DEFAULT_DETECTION_WINDOW;
  const injections = defaultInjections(steps, lrFactor);
  const problem = injectionProblem(injections, steps);
  if (problem) throw new UsageError(problem);
  const spec = studySized(await loadExperiment(name), taskOf(study, name));
  const labels = [study.baseline, study.treatment];
  for (const l of labels) if (!(l in spec.optimizers)) throw new UsageError(`experiment ${spec.name} has no optimizer "${l}" (the study compares ${labels.join(' and ')})`);
  checkDataAvailable(spec.data);
  const backend = await resolveBackend(flags);
  const runsDir = outDir(flags.out, join('runs', `calibrate-${spec.name}`));
  // Clean and injected runs take disjoint seeds from the calibration range, which no study uses.
  const { clean: cleanSeeds, injected: injectedSeeds } = calibrationSeeds(n);
  console.error(
    `calibrate ${spec.name}: ${labels.join(', ')} × (${n} clean + ${n} injected seeds) = ${count(4 * n, 'run')} of ${steps} steps → ${runsDir} (backend ${backend.name}, ${count(workers, 'worker')}); rerun the same command to resume`,
  );
  let progress = createProgress();
  const result = await withGracefulStop(() =>
    runCalibration({
      spec,
      labels,
      cleanSeeds,
      injectedSeeds,
      steps,
      injections,
      window,
      runsDir,
      workers,
      command: `npm run sandbox -- calibrate ${name} --seeds ${n} --steps ${steps}${flags.lrFactor ? ` --lr-factor ${flags.lrFactor}` : ''}`,
      events: {
        onPlan: (todo, skipped, total) => {
          if (skipped) console.error(`${count(todo, 'run')} to do, ${skipped} already complete`);
          progress = createProgress();
          progress.start(total, todo);
        },
        ...progressEvents(() => progress, (s) => `${s.optimizer}/s${s.seed}`),
      },
    }).finally(() => progress.stop()),
  );
  if (!result) {
    console.log('interrupted; rerun the same command to resume (finished runs are skipped)');
    return INTERRUPTED;
  }
  console.log(renderCalibration(result));
  console.log(`\nwritten: ${join(runsDir, 'calibration.json')}`);
  return 0;
}

export const registerCalibrate: RegisterCommand = (program, exit) => {
  withOptions(
    program
      .command('calibrate')
      .description(
        "inject known spikes (a 10× LR step, a batch of shuffled targets) into runs of one study task, score each spike detector's detection rate and false positives per 1k clean steps over a ladder of thresholds, and choose the thresholds",
      )
      .argument('<experiment>', 'experiment name in experiments/ (sized as the study runs it), or a spec file path'),
    flag.require(),
    new Option('--seeds <n>', 'clean and injected runs per optimizer, each (default 3); seeds from 10000 (clean) and 11000 (injected), never used by a study'),
    flag.steps('steps per run (default 300, at least 150)'),
    new Option('--lr-factor <k>', `LR multiplier of the injected LR steps (default ${DEFAULT_LR_FACTOR})`),
    new Option('--window <w>', `an injection at step k is detected by a flag in steps k..k+w (default ${DEFAULT_DETECTION_WINDOW})`),
    new Option('--study <name>', `the study whose task sizes and optimizer pair to use (default ${DEFAULT_STUDY})`),
    flag.workers(),
    flag.out('folder for the calibration runs and calibration.json (default: runs/calibrate-<experiment>); rerunning resumes it'),
    flag.backend(),
  ).action(async (name: string, flags: CalibrateFlags) => exit(await calibrateCommand(name, flags)));
};
