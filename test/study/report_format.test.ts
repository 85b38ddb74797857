/** A missing spike rate says why it is missing: no runs yet, every run diverged, or no per-step records. */
import { expect, it } from 'vitest';
import { spikeCell } from '../../src/study/report_format.js';
import { summarize } from '../../src/study/stats.js';

it('spikeCell: the rate with its n, or why there is none', () => {
  expect(spikeCell(summarize([1, 2, 3]), { n: 4, diverged: 1 })).toBe('2 [1.5–2.5] (n=3)');
  expect(spikeCell(undefined, undefined)).toBe('—'); // an unfinished study: the cell has no runs yet
  expect(spikeCell(undefined, { n: 0, diverged: 0 })).toBe('—');
  expect(spikeCell(undefined, { n: 5, diverged: 5 })).toBe('— (all diverged)');
  expect(spikeCell(undefined, { n: 5, diverged: 2 })).toBe('— (not recorded)');
});
