/** `study` (`npm run study`): the stability study, resumable and shardable. */
import { Option } from 'commander';
import { join } from 'node:path';
import { DEFAULT_STUDY, loadStudy, loadStudyExperiments } from '../../catalog/experiments.js';
import { estimateWallSeconds } from '../../study/cost.js';
import { stopSignal } from '../../study/pool.js';
import { estimateStudy, runStudy, type Shard } from '../../study/study.js';
import { count } from '../../text/plural.js';
import { checkDataAvailable } from '../../train/build.js';
import { ensureDir } from '../../train/run_files.js';
import { loadVariants } from '../../variants/modules.js';
import { outDir, parseShard } from '../args.js';
import { flag, resolveBackend, resolveCheckpointEvery, resolveWorkers, withOptions, type BackendFlags, type WorkersFlags } from '../flags.js';
import { createProgress } from '../progress.js';
import { INTERRUPTED, progressEvents, withGracefulStop, type ExitStatus, type RegisterCommand } from '../session.js';
import { formatDuration } from '../../text/duration.js';

interface StudyFlags extends BackendFlags, WorkersFlags {
  quick?: boolean;
  spec?: string;
  out?: string;
  shard?: string;
  require?: string[];
  checkpointEvery?: string;
}


async function studyCommand(flags: StudyFlags): Promise<ExitStatus> {
  const workers = resolveWorkers(flags);
  const shard: Shard | undefined = flags.shard !== undefined ? parseShard(flags.shard) : undefined;
  await loadVariants(flags.require);
  const every = resolveCheckpointEvery(flags);
  const study = await loadStudy(flags.spec ?? DEFAULT_STUDY, flags.quick === true);
  // The study tunes every LR itself: it scales the specs as written, not the recorded tunings.
  const experiments = await loadStudyExperiments(study);
  for (const e of experiments.values()) checkDataAvailable(e.data);
  const backend = await resolveBackend(flags);
  const fallback = join('runs', shard ? `${study.name}-shard-${shard.index}-of-${shard.count}` : study.name);
  const dir = outDir(flags.out, fallback);
  ensureDir(dir);
  console.error(
    `study ${study.name}${shard ? ` (shard ${shard.index}/${shard.count})` : ''} → ${dir} (backend ${backend.name}, ${count(workers, 'worker')}); rerun the same command to resume`,
  );
  const estimate = estimateStudy(study, experiments, { workers, ...(shard ? { shard } : {}) });
  const phases = [
    `tuning ${formatDuration(estimate.tune)}`,
    `stress ${formatDuration(estimate.stress)}`,
    ...(estimate.ladderRungs > 0 ? [`ladder ≤ ${formatDuration(estimate.ladder)} (${count(estimate.ladderRungs, 'further rung')} to the cap)`] : []),
    ...(estimate.long > 0 ? [`long horizon ${formatDuration(estimate.long)}`] : []),
    `arms ≤ ${formatDuration(estimate.arms)}`,
  ];
  console.error(
    `estimated wall time: ≤ ${formatDuration(estimate.total)} for ≤ ${count(estimate.runs, 'run')} (${phases.join(', ')}; ` +
      `FLOP model on ${count(workers, 'worker')}, before skipping finished runs; diverged runs end early, the ladder stops where both optimizers fail)`,
  );
  const started = performance.now();
  let progress = createProgress();
  const result = await withGracefulStop(() =>
    runStudy(study, experiments, dir, {
      workers,
      checkpointEvery: every,
      ...(shard ? { shard } : {}),
      events: {
        onPhase: (phase, runs, skipped, steps, estimates) => {
          progress.stop();
          const secs = estimates ? estimates.map((e) => e.seconds) : [];
          console.error(
            `${phase}: ${count(runs, 'run')} to do${skipped ? `, ${skipped} already complete` : ''}${runs ? ` (estimated ${formatDuration(estimateWallSeconds(secs, workers))})` : ''}`,
          );
          progress = createProgress();
          progress.start(steps, runs, estimates);
        },
        ...progressEvents(() => progress, (s) => `${s.experiment}/${s.optimizer}/s${s.seed}`),
      },
    }).finally(() => progress.stop()),
  );
  const elapsed = formatDuration((performance.now() - started) / 1000);
  if (stopSignal.requested) {
    console.log(`interrupted after ${elapsed}; rerun the same command to resume (finished runs are skipped)`);
    return INTERRUPTED;
  }
  for (const [key, lr] of result.tuned) console.log(`tuned LR ${key.replace('\u0000', '/')}: ${lr}`);
  for (const [task, ms] of result.armMultipliers) console.log(`arms on ${task} at ${ms.map((m) => `${m}×`).join(', ')} (where either optimizer first fails)`);
  console.log(
    `done in ${elapsed}: ${result.tuning.length} tuning + ${result.stress.length} stress + ${result.long.length} long-horizon + ${result.arms.length} arm runs in ${dir}`,
  );
  console.log(shard ? `merge the shards with: npm run merge -- <shard dirs> --out DIR` : `report: npm run report -- ${dir}`);
  return 0;
}

export const registerStudy: RegisterCommand = (program, exit) => {
  withOptions(
    program
      .command('study')
      .description(
        'the stability study: LR tuning per optimizer; spikes (whole run and last half), divergence and failure at multiples of the tuned LR (v3: a ladder 1, 2, 4, … 256× to failure, a long-horizon phase, width variants, a positive control); then the arms (e.g. muon-match-rms) where either optimizer first fails. Prints a wall-time estimate per phase (FLOP model) first; the progress ETA is cost-weighted',
      ),
    flag.require(),
    flag.quick('the same pipeline with a small grid and short horizons (minutes)'),
    flag.spec(),
    flag.out('study folder (default: runs/<study name>); rerunning resumes it'),
    flag.workers(),
    new Option('--shard <i/n>', 'run only the i-th of n deterministic shares (merge them with `merge`)'),
    flag.backend(),
    flag.checkpointEvery('on the same folder'),
  ).action(async (flags: StudyFlags) => exit(await studyCommand(flags)));
};
