import { describe, expect, it } from 'vitest';
import { count } from '../../src/text/plural.js';

describe('count', () => {
  it('uses the singular for exactly one, the plural otherwise', () => {
    expect(count(1, 'worker')).toBe('1 worker');
    expect(count(2, 'worker')).toBe('2 workers');
    expect(count(0, 'seed')).toBe('0 seeds');
  });
  it('takes an irregular plural', () => {
    expect(count(1, 'child', 'children')).toBe('1 child');
    expect(count(3, 'child', 'children')).toBe('3 children');
  });
});
