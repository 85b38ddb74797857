/** Learning-rate schedules as a factor in [0, 1] multiplying every optimizer group's base LR. */

export type ScheduleSpec =
  /** Flat; with `warmup`, a linear warm-up first (the stability study's "warm-up then constant" stress runs). */
  | { readonly kind: 'constant'; readonly warmup?: number }
  /** Linear warm-up, then cosine decay to minFactor at the last step. */
  | { readonly kind: 'cosine'; readonly warmup: number; readonly minFactor?: number }
  /** Warmup–stable–decay (Hu et al. 2024, MiniCPM): linear warm-up, flat, linear decay over the last decayFraction. */
  | { readonly kind: 'wsd'; readonly warmup: number; readonly decayFraction: number; readonly minFactor?: number };

const SCHEDULE_KINDS = ['constant', 'cosine', 'wsd'] as const;

/** The schedule's linear warm-up in steps (0 when it has none). */
export function warmupSteps(schedule: ScheduleSpec): number {
  return schedule.kind === 'constant' ? (schedule.warmup ?? 0) : schedule.warmup;
}

/** Factor for 1-based `step` of `total`. */
export function lrFactor(schedule: ScheduleSpec, step: number, total: number): number {
  const warmup = Math.min(warmupSteps(schedule), total);
  if (step <= warmup) return step / warmup;
  if (schedule.kind === 'constant') return 1;
  const min = schedule.minFactor ?? 0;
  if (schedule.kind === 'cosine') {
    const progress = (step - warmup) / Math.max(1, total - warmup);
    return min + (1 - min) * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress)));
  }
  const decaySteps = Math.max(1, Math.round(schedule.decayFraction * total));
  const decayStart = total - decaySteps;
  if (step <= decayStart) return 1;
  return min + (1 - min) * Math.max(0, (total - step) / decaySteps);
}

export function validateSchedule(s: ScheduleSpec, where: string): void {
  if (!SCHEDULE_KINDS.includes(s.kind)) {
    throw new Error(`${where}.kind = ${JSON.stringify(s.kind)}: expected one of ${SCHEDULE_KINDS.join(', ')}`);
  }
  if (s.kind === 'constant' && s.warmup === undefined) return;
  if (!Number.isSafeInteger(s.warmup) || s.warmup! < 0) throw new Error(`${where}.warmup = ${s.warmup}: expected an integer ≥ 0`);
  if (s.kind === 'constant') return;
  if (s.minFactor !== undefined && !(s.minFactor >= 0 && s.minFactor <= 1)) {
    throw new Error(`${where}.minFactor = ${s.minFactor}: expected a number in [0, 1]`);
  }
  if (s.kind === 'wsd' && !(s.decayFraction > 0 && s.decayFraction <= 1)) {
    throw new Error(`${where}.decayFraction = ${s.decayFraction}: expected a number in (0, 1]`);
  }
}
