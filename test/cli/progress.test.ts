/** Progress: the ETA format (seconds roll over into minutes, minutes into hours: regression `12m60s`), and the plain lines on a non-TTY stream. */
import { describe, expect, it } from 'vitest';
import { createProgress, formatEta } from '../../src/cli/progress.js';

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

describe('createProgress on a non-TTY stream', () => {
  it('writes a plain line at start, then at most every 5 s from the updates themselves (no timer), and at stop', () => {
    const lines: string[] = [];
    const stream = { isTTY: false, write: (s: string) => void lines.push(s) } as unknown as NodeJS.WriteStream;
    let t = 0;
    const p = createProgress(stream, () => t);
    p.start(400, 4);
    expect(lines).toEqual(['0% | ETA -- | 0/4 runs | loss —\n']);
    t = 1000;
    p.step(0, 50, 0.5);
    expect(lines).toHaveLength(1); // within 5 s of the last line
    t = 10_000;
    p.runDone(0, 'a/s0', 100);
    // 100 of 400 steps in 10 s → 30 s to go.
    expect(lines[1]).toBe('25% | ETA 30s | 1/4 runs | loss 0.5 (last: a/s0)\n');
    t = 12_000;
    p.runDone(1, 'a/s1', 100);
    expect(lines).toHaveLength(2);
    p.stop();
    expect(lines[2]).toBe('50% | ETA 10s | 2/4 runs | loss 0.5 (last: a/s1)\n');
  });
});
