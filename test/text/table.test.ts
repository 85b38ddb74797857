import { describe, expect, it } from 'vitest';
import { formatNumber, renderTable } from '../../src/text/table.js';

describe('renderTable', () => {
  it('right-aligns number columns, left-aligns text, and pads to the content', () => {
    const out = renderTable(
      ['optimizer', 'loss', 'spikes'],
      [
        ['adamw', 0.12345, 3],
        ['muon', 0.5, 12],
        ['normuon', Number.NaN, '—'],
      ],
    );
    expect(out.split('\n')).toEqual([
      '| optimizer |   loss | spikes |',
      '|:----------|-------:|-------:|',
      '| adamw     | 0.1235 |      3 |',
      '| muon      |    0.5 |     12 |',
      '| normuon   |      — |      — |',
    ]);
  });

  it('follows explicit alignment, pads ragged rows and escapes pipes', () => {
    const out = renderTable(['a', 'b'], [['x|y'], [1, 'z']], { align: ['right', 'left'] });
    expect(out.split('\n')).toEqual(['|    a | b   |', '|-----:|:----|', '| x\\|y |     |', '|    1 | z   |']);
  });

  it('gives every line the same width', () => {
    const lines = renderTable(['h'], [['a much longer cell'], [1e-9]]).split('\n');
    expect(new Set(lines.map((l) => [...l].length)).size).toBe(1);
  });
});

describe('formatNumber', () => {
  it('is compact, with an exponent only for very small or large values', () => {
    expect(formatNumber(0.123456)).toBe('0.1235');
    expect(formatNumber(0.123456, 3)).toBe('0.123');
    expect(formatNumber(12.5)).toBe('12.5');
    expect(formatNumber(3000)).toBe('3000');
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(0.001)).toBe('0.001');
    expect(formatNumber(-1.2345e-5)).toBe('-1.234e-5');
    expect(formatNumber(1.5e7)).toBe('1.5e7');
    expect(formatNumber(123456.7)).toBe('1.235e5');
  });

  it("shows '—' for missing values and NaN, ∞ for infinities", () => {
    expect(formatNumber(null)).toBe('—');
    expect(formatNumber(undefined)).toBe('—');
    expect(formatNumber(Number.NaN)).toBe('—');
    expect(formatNumber(Number.NEGATIVE_INFINITY)).toBe('-∞');
  });
});
