/** The progress bar's ETA: seconds roll over into minutes, minutes into hours (regression: `12m60s`). */
import { describe, expect, it } from 'vitest';
import { formatEta } from '../../src/cli/progress.js';

describe('formatEta', () => {
  it('rolls rounded seconds over to the next minute', () => {
    expect(formatEta(779.9, 5)).toBe('13m00s'); // cli-progress printed 12m60s
    expect(formatEta(778, 5)).toBe('13m00s');
    expect(formatEta(777, 5)).toBe('12m55s');
    expect(formatEta(59.9, 5)).toBe('1m00s');
    expect(formatEta(3599, 5)).toBe('1h00m');
    expect(formatEta(3600 + 59.6 * 60, 5)).toBe('2h00m');
  });

  it('short, long and unknown durations', () => {
    expect(formatEta(4.4)).toBe('4s');
    expect(formatEta(12, 5)).toBe('10s');
    expect(formatEta(61, 1)).toBe('1m01s');
    expect(formatEta(7322, 1)).toBe('2h02m');
    expect(formatEta(NaN)).toBe('--');
    expect(formatEta(Infinity)).toBe('--');
    expect(formatEta(-1)).toBe('--');
  });

  it('never prints 60 seconds or 60 minutes, for any duration', () => {
    for (let t = 0; t < 20_000; t += 0.37) {
      const s = formatEta(t, 5);
      expect(s).toMatch(/^(\d+s|\d+m[0-5]\ds|\d+h[0-5]\dm)$/);
    }
  });
});
