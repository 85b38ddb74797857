/**
 * The "Protocol" section of REPORT.md: what the study ran and by which rules. Seeds, multipliers and
 * horizons are printed per task where a task has its own (study v3: per-task and per-arm seeds, the
 * stress ladder, the long-horizon phase); a study without them (v2) gets the study-wide lines it
 * always had, word for word.
 */
import { DEFAULT_DIVERGENCE_FACTOR } from '../train/config.js';
import { DETECTOR_DEFAULTS_DOC, describeDetector, type DetectorSpec } from '../train/spikes.js';
import { ADJUSTED_TAIL_RESAMPLES, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED } from './compare.js';
import { MIN_STABLE_RUNS } from './endpoints.js';
import { ladderRungs, longSeedsOf, multLabel, seedsOf, stressStepsOf, tuneStepsOf, type LongHorizonSpec, type StudySpec, type StudyTask } from './protocol.js';
import { num, pct } from './report_format.js';
import type { StudyResults } from './results.js';
import { FAMILY_ALPHA } from './stats.js';
import { ELIGIBILITY_RULE } from './tuning.js';

/** Seeds as a short list: runs of three or more consecutive integers as a–b, then n. */
export function seedList(seeds: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < seeds.length; ) {
    let j = i;
    while (j + 1 < seeds.length && seeds[j + 1] === seeds[j]! + 1) j++;
    if (j - i >= 2) parts.push(`${seeds[i]}–${seeds[j]}`);
    else parts.push(...seeds.slice(i, j + 1).map(String));
    i = j + 1;
  }
  return `${parts.join(', ')} (n = ${seeds.length})`;
}

/**
 * Tasks with detector settings of their own (StudyTask.detectors: v3's LM tasks, calibrated): one
 * line per setting, naming its tasks, since the defaults listed above do not apply to them.
 */
function ownDetectorLines(s: StudySpec): string[] {
  const bySetting = new Map<string, { tasks: string[]; detectors: readonly DetectorSpec[] }>();
  for (const t of s.tasks) {
    if (!t.detectors) continue;
    const key = JSON.stringify(t.detectors);
    const g = bySetting.get(key) ?? { tasks: [], detectors: t.detectors };
    g.tasks.push(t.experiment);
    bySetting.set(key, g);
  }
  return [...bySetting.values()].map(
    (g) => `  - **${g.tasks.join(', ')}** ${g.tasks.length === 1 ? 'uses its' : 'use their'} own settings, not the defaults above: ${g.detectors.map(describeDetector).join('; ')}.`,
  );
}

/** A task's arms with seeds of their own, grouped by seed list: "; its arms a, b: 0–4 (n = 5)". */
function armSeedsText(task: StudyTask): string {
  const bySeeds = new Map<string, { arms: string[]; seeds: readonly number[] }>();
  for (const [arm, seeds] of Object.entries(task.seedsByArm ?? {})) {
    if (!seeds) continue;
    const key = seeds.join(',');
    const g = bySeeds.get(key) ?? { arms: [], seeds };
    g.arms.push(arm);
    bySeeds.set(key, g);
  }
  return [...bySeeds.values()].map((g) => `, its arms ${g.arms.join(', ')} ${seedList(g.seeds)}`).join('');
}

/** The long-horizon phase's seeds: one list, or per task where a task has its own. */
function longSeedsText(l: LongHorizonSpec): string {
  if (!l.seedsByTask) return seedList(l.seeds);
  return l.tasks.map((t) => `${t} ${seedList(longSeedsOf(l, t))}`).join('; ');
}

function seedsLine(s: StudySpec): string {
  if (!s.long && s.tasks.every((t) => t.seeds === undefined && t.seedsByArm === undefined)) {
    return `- Seeds: ${s.seeds.join(', ')} (n = ${s.seeds.length}), the same for every optimizer, LR and multiplier.`;
  }
  const perTask = s.tasks.map((t) => `${t.experiment} ${seedList(seedsOf(s, t))}${armSeedsText(t)}`).join('; ');
  return `- Seeds, the same for both optimizers: tuning ${seedList(s.seeds)} at every grid LR; stress, ladder and arms per task: ${perTask}.${s.long ? ` Long horizon: ${longSeedsText(s.long)}.` : ''}`;
}

function stressLine(s: StudySpec): string {
  const scale = 'For Muon the multiplier scales every parameter group (its internal AdamW too).';
  const own = s.tasks.filter((t) => t.multipliers !== undefined);
  const fixed = s.tasks.filter((t) => t.fixedLr);
  if (!s.stress.ladder && own.length === 0 && fixed.length === 0) {
    return `- Stress: each experiment's own warm-up, then a constant LR at ${s.stress.multipliers.map(multLabel).join(', ')} each optimizer's tuned LR, for each task's stress horizon (below). ${scale}`;
  }
  const cap = s.stress.ladder?.cap;
  const multiples =
    cap !== undefined
      ? `a ladder of rungs ${ladderRungs(cap).map(multLabel).join(', ')} (cap ${multLabel(cap)}), climbed one rung at a time per task until each optimizer has failed in at least half its runs at some rung, or the cap (see "Stress ladder")`
      : s.stress.multipliers.map(multLabel).join(', ');
  return [
    `- Stress: each experiment's own warm-up, then a constant LR at a multiple of each optimizer's tuned LR, for each task's stress horizon (below). ${scale} Multiples: ${multiples}.`,
    ...(own.length ? [` Tasks with their own multiples${cap !== undefined ? ' (off the ladder)' : ''}: ${own.map((t) => `${t.experiment} ${t.multipliers!.map(multLabel).join(', ')}`).join('; ')}.`] : []),
    ...(fixed.length ? [` Not tuned, at their experiment's hand-picked LRs (the "tuned" LR is the experiment's): ${fixed.map((t) => t.experiment).join(', ')}.`] : []),
  ].join('');
}

function longLine(r: StudyResults): string[] {
  const l = r.spec.long;
  if (!l) return [];
  const byTask = l.tasks.map((task) => {
    const c = r.phases.long.find((x) => x.task === task);
    return c ? `${task} ${c.steps} steps (${num(c.tokens)} tokens)` : `${task} —`;
  });
  return [
    `- Long horizon: ${l.tasks.join(', ')} at ${l.multipliers.map(multLabel).join(', ')} each optimizer's tuned LR (the experiment's warm-up, then constant) for ${l.tokensPerActiveParam} tokens per active non-embedding parameter: ${byTask.join('; ')}. See "Long horizon".`,
  ];
}

/**
 * The widest gap, over tasks, between the two optimizers' median final eval losses at their tuned
 * LRs, from this study's tuning (the failed rule's k must clear it), as a clause; '' without one.
 */
function tunedGap(r: StudyResults): string {
  const gaps = Object.entries(r.tuning).flatMap(([task, byLabel]) => {
    const losses = Object.values(byLabel).map((t) => t.grid.find((g) => g.lr === t.tunedLr)?.medianEvalLoss ?? NaN);
    const ratio = Math.max(...losses) / Math.min(...losses);
    return losses.length === 2 && Number.isFinite(ratio) ? [{ task, ratio }] : [];
  });
  if (gaps.length === 0) return '';
  const widest = gaps.reduce((a, b) => (b.ratio > a.ratio ? b : a));
  return ` (in this study their tuned losses differ by at most ${num(widest.ratio)}×, on ${widest.task})`;
}

/** Protocol lines for the late-stage horizons and the arms. */
function lateStageProtocol(r: StudyResults): string[] {
  const s = r.spec;
  const horizons = s.tasks
    .map((t) => {
      const tune = tuneStepsOf(s, t);
      const stress = stressStepsOf(s, t);
      // A fixed-LR task has no tuning runs, so no tuning horizon to compare with.
      return t.fixedLr ? `${t.experiment} (not tuned) ${stress} steps` : `${t.experiment} ${tune} → ${stress} steps (${num(stress / tune)}×)`;
    })
    .join('; ');
  const arms = r.arms.length
    ? r.arms.map((a) => `${a.task}/${a.arm}${a.needs ? ' (not run)' : ''}`).join(', ')
    : 'none';
  return [
    `- Horizons, tuning → stress (the stress run's last half is the "late stage"): ${horizons}.`,
    `- Arms beyond optimizer × multiplier, at the multipliers where either optimizer first fails (at least half its stress runs failed; the largest multiplier if neither fails): ${arms}. See "Arms".`,
  ];
}

export function protocolSection(r: StudyResults): string {
  const s = r.spec;
  const grids = Object.entries(s.tune.grid)
    .map(([label, g]) => `  - ${label}: ${g.map(num).join(', ')} (${g.length} points, ${num(Math.log10(g[g.length - 1]! / g[0]!))} decades)`)
    .join('\n');
  const tasks = s.tasks
    .map((t) => {
      const e = r.experiments[t.experiment];
      const model = t.model ?? e?.model;
      return `  - **${t.experiment}**: ${e?.description ?? ''}${t.model ? ` — model overridden: ${JSON.stringify(model)}` : ''}`;
    })
    .join('\n');
  const f = s.failureProgressShare;
  const lostProgress = f === undefined ? '' : `, or (f = ${num(f)}) it lost at least the share f of the tuned runs' progress: final eval loss ≥ best tuned + f × (its initial − best tuned)`;
  return [
    '## Protocol',
    '',
    `- Study **${s.name}**: ${s.description}.`,
    `- Comparison: **${s.treatment}** (treatment) vs **${s.baseline}** (baseline); every difference below is ${s.treatment} − ${s.baseline}, and lower is better for every metric.`,
    `- Tasks:\n${tasks}`,
    seedsLine(s),
    `- Tuning: ${s.tune.steps} steps with each experiment's own schedule; LR grids (each optimizer its own):\n${grids}`,
    `  Rule: ${ELIGIBILITY_RULE}.`,
    stressLine(s),
    ...lateStageProtocol(r),
    ...longLine(r),
    `- Divergence: non-finite loss, or loss above ${DEFAULT_DIVERGENCE_FACTOR}× the first step's loss; a diverged run stops and is counted, never dropped.`,
    `- **Failed**: diverged, or final eval loss ≥ the run's eval loss at initialisation, or ≥ k × the task's best tuned loss (the lower of the two optimizers' median final eval loss at their tuned LRs), k = ${r.failureLossFactor}${lostProgress}. Muon's bounded step rarely crosses the divergence threshold even when training has failed; k must lie above the gap between two optimizers that both train normally${tunedGap(r)} and below the loss of a run that broke and plateaued (how k was chosen: src/study/failure.ts). Best tuned losses: ${Object.entries(r.bestTunedLoss).map(([t, l]) => `${t} ${num(l)}`).join(', ') || '—'}.`,
    '- Final eval loss (endpoint): a diverged run counts as its loss at initialisation (as in tuning); other runs keep their final eval loss, even above it.',
    `- Spike rates (events per 1k completed steps) are compared over runs that did not diverge, and only where each side has at least ${MIN_STABLE_RUNS}: a run that blew up early has few spikes, which says nothing about stability. Divergence is its own endpoint.`,
    '- Spike detectors (events: a run of consecutive flagged steps counts once; "gradnorm" is the grad-norm spike count):',
    DETECTOR_DEFAULTS_DOC.split('\n')
      .map((l) => `  ${l}`)
      .join('\n'),
    ...ownDetectorLines(s),
    `- Statistics: median [IQR] per cell; for each difference, the difference of means with a percentile bootstrap 95% CI (${BOOTSTRAP_RESAMPLES} resamples per group, seeded by the endpoint's identity from ${BOOTSTRAP_SEED}); P(${s.treatment} better) = Mann–Whitney U/(m·n) (ties count ½) with its two-sided p-value (exact without ties and n < 50, else normal approximation with tie correction).`,
    `- Multiplicity: the ${r.endpoints.length} endpoints are one family. Each also gets a family-wise interval at confidence 1 − ${FAMILY_ALPHA}/${r.endpoints.length} = ${pct(r.familyConfidence)} (Bonferroni; the same bootstrap with enough resamples for ≥ ${ADJUSTED_TAIL_RESAMPLES} beyond each end), and ${r.primary ? 'the exploratory claim check at the end uses the family-wise intervals (the sub-claim verdicts at the top come from the pre-registered primary family, exact tests and Holm over that family only)' : '**every verdict uses the family-wise intervals**, so one chance 95% CI cannot decide one'}. p-values are given raw and Holm-adjusted over all tests (the endpoints and the log-rank tests).`,
    `- Backend${r.backends.length > 1 ? 's' : ''}: ${r.backends.join(', ') || '—'}${r.backends.length > 1 ? ' (mixed: numbers differ slightly between backends)' : ''}.`,
    `- Runs found: ${r.runsFound} of ${r.runsExpected}.${r.missing.length ? ` **Missing ${r.missing.length}** (first: ${r.missing.slice(0, 3).join(', ')}): the numbers below use what is there.` : ''}`,
  ].join('\n');
}
