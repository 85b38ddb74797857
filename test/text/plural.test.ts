import { describe, expect, it } from 'vitest';
import { plural } from '../../src/text/plural.js';

describe('plural', () => {
  it('uses the singular for exactly one and the plural otherwise', () => {
    expect(plural(1, 'seed')).toBe('1 seed');
    expect(plural(0, 'seed')).toBe('0 seeds');
    expect(plural(3, 'run')).toBe('3 runs');
  });
  it('takes an irregular plural when given', () => {
    expect(plural(2, 'series', 'series')).toBe('2 series');
    expect(plural(1, 'index', 'indices')).toBe('1 index');
  });
});
