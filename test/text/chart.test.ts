import { describe, expect, it } from 'vitest';
import { downsample, renderChart, useColor, type ChartSeries } from '../../src/text/chart.js';

const ANSI = /\x1b\[[0-9;]*m/g;
const visibleWidth = (line: string): number => [...line.replace(ANSI, '')].length;

const decay = (n: number, scale = 2): number[] => Array.from({ length: n }, (_, i) => 0.05 + scale * Math.exp(-i / (n / 5)));

const SERIES: ChartSeries[] = [
  { label: 'adamw', values: decay(3000), note: 'spikes median=2 zscore=1' },
  { label: 'muon', values: decay(1200, 1.5) },
  { label: 'muon-hot', values: [...decay(700), Number.NaN, Number.POSITIVE_INFINITY, 3] },
];

function legendLines(out: string): string[] {
  return out.split('\n').filter((l) => l.replace(ANSI, '').startsWith('  ── '));
}

describe('renderChart', () => {
  it('draws one legend line per series, with label and note', () => {
    const out = renderChart(SERIES, { width: 80, color: false });
    const legend = legendLines(out);
    expect(legend).toHaveLength(3);
    expect(legend[0]).toContain('adamw');
    expect(legend[0]).toContain('spikes median=2 zscore=1');
    expect(legend[1]).toContain('muon');
  });

  it('has no ANSI escapes without colour and coloured series with it', () => {
    expect(renderChart(SERIES, { width: 80, color: false })).not.toMatch(ANSI);
    const coloured = renderChart(SERIES, { width: 80, color: true });
    expect(coloured).toMatch(ANSI);
    // Distinct colours: each legend marker carries its own escape code.
    const codes = legendLines(coloured).map((l) => l.match(ANSI)?.[0]);
    expect(new Set(codes).size).toBe(3);
  });

  it('keeps every line within the width, y labels included', () => {
    for (const width of [24, 40, 63, 80, 120]) {
      for (const options of [{ color: true }, { color: false, logY: true }, { color: true, smooth: 0.9 }]) {
        const out = renderChart(SERIES, { width, ...options });
        for (const line of out.split('\n')) expect(visibleWidth(line)).toBeLessThanOrEqual(width);
      }
    }
    // Wide labels (tiny values in exponent notation) still fit.
    const tiny = renderChart([{ label: 't', values: decay(500, 1e-6).map((v) => v * 1e-6) }], { width: 50, color: false });
    for (const line of tiny.split('\n')) expect(visibleWidth(line)).toBeLessThanOrEqual(50);
  });

  it('uses the whole width for the longest series and aligns shorter ones by step', () => {
    const out = renderChart(SERIES, { width: 80, color: false, height: 8 });
    const plotLines = out.split('\n').filter((l) => /[┤┼]/.test(l));
    expect(Math.max(...plotLines.map(visibleWidth))).toBeGreaterThan(70);
    const xAxis = out.split('\n').find((l) => l.includes(' step '))!;
    expect(xAxis.trim().startsWith('1')).toBe(true);
    expect(xAxis.trim().endsWith('3000')).toBe(true);
  });

  it('cuts a diverged series at its first non-finite value and says where', () => {
    const out = renderChart(SERIES, { width: 80, color: false });
    expect(legendLines(out)[2]).toContain('(diverged at step 701)');
    expect(() => renderChart([{ label: 'dead', values: [Number.NaN, 1, 2] }], { color: false })).not.toThrow();
    expect(renderChart([{ label: 'dead', values: [Number.NaN] }], { color: false })).toContain('(diverged at step 1)');
  });

  it('scales the x axis and the divergence step by stepsPerValue (a curve of bucket means)', () => {
    const out = renderChart(SERIES, { width: 80, color: false, stepsPerValue: 10 });
    const xAxis = out.split('\n').find((l) => l.includes(' step '))!;
    expect(xAxis.trim().endsWith('30000')).toBe(true);
    // muon-hot's first non-finite value is its 701st: bucket 700, which starts at step 7001.
    expect(legendLines(out)[2]).toContain('(diverged at step 7001)');
  });

  it('log-y skips zeros and non-positive values without throwing', () => {
    const values = [1, 0, 0.5, 0, 0.25, -1, 0.1];
    expect(() => renderChart([{ label: 'z', values }], { logY: true, color: false })).not.toThrow();
    const allZero = renderChart([{ label: 'zeros', values: [0, 0, 0] }, { label: 'ok', values: [1, 2] }], { logY: true, color: false });
    expect(allZero).toContain('(no positive values to plot)');
    expect(allZero).not.toContain('NaN');
  });

  it('handles a flat series, a single point and no series', () => {
    expect(renderChart([{ label: 'flat', values: [2, 2, 2] }], { color: false })).not.toContain('NaN');
    expect(() => renderChart([{ label: 'one', values: [3] }], { color: false })).not.toThrow();
    expect(renderChart([], { color: false, title: 'empty' }).split('\n')[0]).toBe('empty');
  });

  it('puts a title line first', () => {
    expect(renderChart(SERIES, { color: false, title: 'train loss', logY: true }).split('\n')[0]).toBe('train loss (log y)');
  });
});

describe('downsample', () => {
  it('averages near-equal buckets', () => {
    expect(downsample([1, 2, 3, 4, 5, 6, 7], 3)).toEqual([1.5, 3.5, 6]);
    expect(downsample([1, 2, 3, 4, 5, 6], 2)).toEqual([2, 5]);
  });

  it('ignores non-finite values in a bucket and keeps NaN for an all-non-finite bucket', () => {
    const out = downsample([Number.NaN, Number.POSITIVE_INFINITY, 1, Number.NaN, 3, 5], 3);
    expect(out[0]).toBeNaN();
    expect(out.slice(1)).toEqual([1, 4]);
  });

  it('returns short input unchanged', () => {
    expect(downsample([1, 2, 3], 5)).toEqual([1, 2, 3]);
    expect(downsample([1, 2, 3], 3)).toEqual([1, 2, 3]);
  });
});

describe('useColor', () => {
  const tty = { isTTY: true };
  it('honours NO_COLOR (any non-empty value) and non-TTY streams', () => {
    expect(useColor(tty, {})).toBe(true);
    expect(useColor(tty, { NO_COLOR: '1' })).toBe(false);
    expect(useColor(tty, { NO_COLOR: '' })).toBe(true);
    expect(useColor({ isTTY: false }, {})).toBe(false);
    expect(useColor({}, {})).toBe(false);
  });

  it('lets FORCE_COLOR force colour on (or off with 0)', () => {
    expect(useColor({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
    expect(useColor(tty, { FORCE_COLOR: '0' })).toBe(false);
  });
});
