/** LR schedules: values at known steps, and validation messages. */
import { describe, expect, it } from 'vitest';
import { lrFactor, validateSchedule, type ScheduleSpec } from '../../src/train/schedule.js';

const curve = (s: ScheduleSpec, total: number) => Array.from({ length: total }, (_, i) => lrFactor(s, i + 1, total));

describe('lrFactor', () => {
  it('constant is 1 at every step', () => {
    expect(curve({ kind: 'constant' }, 50).every((f) => f === 1)).toBe(true);
  });

  it('constant with a warm-up: linear to 1 over the warm-up steps, then 1 to the end', () => {
    const c = curve({ kind: 'constant', warmup: 4 }, 10);
    expect(c).toEqual([0.25, 0.5, 0.75, 1, 1, 1, 1, 1, 1, 1]);
    expect(curve({ kind: 'constant', warmup: 0 }, 5)).toEqual([1, 1, 1, 1, 1]);
  });

  it('cosine: linear warm-up to 1, half-way value at mid-decay, minFactor at the last step', () => {
    const s: ScheduleSpec = { kind: 'cosine', warmup: 10, minFactor: 0.1 };
    expect(lrFactor(s, 1, 100)).toBeCloseTo(0.1, 12);
    expect(lrFactor(s, 5, 100)).toBeCloseTo(0.5, 12);
    expect(lrFactor(s, 10, 100)).toBe(1);
    // progress = (55 − 10) / 90 = 0.5 → min + (1 − min)/2
    expect(lrFactor(s, 55, 100)).toBeCloseTo(0.55, 12);
    // progress 1/3 → 0.1 + 0.9 · (1 + cos(π/3)) / 2 = 0.775
    expect(lrFactor(s, 40, 100)).toBeCloseTo(0.775, 12);
    expect(lrFactor(s, 100, 100)).toBeCloseTo(0.1, 12);
    const c = curve(s, 100);
    for (let i = 10; i < 100; i++) expect(c[i]!).toBeLessThanOrEqual(c[i - 1]!);
    for (const f of c) {
      expect(f).toBeGreaterThanOrEqual(0.1 - 1e-12);
      expect(f).toBeLessThanOrEqual(1);
    }
  });

  it('cosine defaults minFactor to 0 and handles warm-up 0 and warm-up longer than the run', () => {
    expect(lrFactor({ kind: 'cosine', warmup: 0 }, 100, 100)).toBeCloseTo(0, 12);
    expect(lrFactor({ kind: 'cosine', warmup: 0 }, 1, 100)).toBeGreaterThan(0.99);
    // warm-up is capped at the run length: a 20-step run with warmup 50 ramps to 1 at its last step.
    expect(lrFactor({ kind: 'cosine', warmup: 50 }, 10, 20)).toBeCloseTo(0.5, 12);
    expect(lrFactor({ kind: 'cosine', warmup: 50 }, 20, 20)).toBe(1);
  });

  it('wsd: warm-up, flat at 1 until the decay window, then linear decay to minFactor', () => {
    const s: ScheduleSpec = { kind: 'wsd', warmup: 10, decayFraction: 0.2 };
    expect(lrFactor(s, 5, 100)).toBeCloseTo(0.5, 12);
    for (const step of [10, 11, 50, 79, 80]) expect(lrFactor(s, step, 100)).toBe(1);
    expect(lrFactor(s, 85, 100)).toBeCloseTo(0.75, 12);
    expect(lrFactor(s, 90, 100)).toBeCloseTo(0.5, 12);
    expect(lrFactor(s, 100, 100)).toBe(0);
    const withMin: ScheduleSpec = { kind: 'wsd', warmup: 10, decayFraction: 0.2, minFactor: 0.1 };
    expect(lrFactor(withMin, 90, 100)).toBeCloseTo(0.55, 12);
    expect(lrFactor(withMin, 100, 100)).toBeCloseTo(0.1, 12);
    // Linear: equal steps between consecutive decay values.
    const c = curve(s, 100).slice(80);
    const diffs = c.slice(1).map((v, i) => c[i]! - v);
    for (const d of diffs) expect(d).toBeCloseTo(0.05, 12);
  });
});

describe('validateSchedule', () => {
  const bad: [unknown, RegExp][] = [
    [{ kind: 'linear' }, /sched\.kind = "linear": expected one of constant, cosine, wsd/],
    [{ kind: 'cosine', warmup: -1 }, /sched\.warmup = -1: expected an integer ≥ 0/],
    [{ kind: 'cosine', warmup: 2.5 }, /sched\.warmup = 2\.5/],
    [{ kind: 'cosine' }, /sched\.warmup = undefined/],
    [{ kind: 'cosine', warmup: 0, minFactor: 1.5 }, /sched\.minFactor = 1\.5: expected a number in \[0, 1\]/],
    [{ kind: 'wsd', warmup: 0, minFactor: -0.1, decayFraction: 0.1 }, /sched\.minFactor = -0\.1/],
    [{ kind: 'wsd', warmup: 5, decayFraction: 0 }, /sched\.decayFraction = 0: expected a number in \(0, 1\]/],
    [{ kind: 'wsd', warmup: 5, decayFraction: 1.2 }, /sched\.decayFraction = 1\.2/],
    [{ kind: 'wsd', warmup: 5 }, /sched\.decayFraction = undefined/],
    [{ kind: 'constant', warmup: -1 }, /sched\.warmup = -1: expected an integer ≥ 0/],
    [{ kind: 'constant', warmup: 2.5 }, /sched\.warmup = 2\.5/],
  ];
  for (const [spec, message] of bad) {
    it(`rejects ${JSON.stringify(spec)}`, () => {
      expect(() => validateSchedule(spec as ScheduleSpec, 'sched')).toThrow(message);
    });
  }

  it('accepts valid schedules', () => {
    for (const s of [
      { kind: 'constant' },
      { kind: 'constant', warmup: 50 },
      { kind: 'cosine', warmup: 0 },
      { kind: 'cosine', warmup: 15, minFactor: 0.1 },
      { kind: 'wsd', warmup: 10, decayFraction: 1, minFactor: 0 },
    ] as ScheduleSpec[]) {
      expect(() => validateSchedule(s, 'sched')).not.toThrow();
    }
  });
});
