import { describe, expect, it } from 'vitest';
import { formatDuration } from '../../src/text/duration.js';

describe('formatDuration', () => {
  it('seconds below a minute (rounded up, never "60 s"), minutes below two hours, then hours', () => {
    expect(formatDuration(0.2)).toBe('1 s');
    expect(formatDuration(42)).toBe('42 s');
    expect(formatDuration(59.2)).toBe('1.0 min');
    expect(formatDuration(750)).toBe('12.5 min');
    expect(formatDuration(7199)).toBe('120.0 min');
    expect(formatDuration(878.6 * 60)).toBe('14.6 h');
  });
});
