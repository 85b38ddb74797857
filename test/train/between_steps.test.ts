/**
 * TrainHooks.betweenSteps, which the browser playground awaits to take messages and to pause: it is
 * awaited once before every step, and a run that waits there (here across real macrotasks, as a
 * paused page does) has the same numbers as one that does not.
 */
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { train, type StepRecord } from '../../src/train/loop.js';
import { oneRun, tinyMlp } from './fixtures.js';

const numbers = ({ ms: _ms, ...rest }: StepRecord) => rest;

describe('betweenSteps', () => {
  it('is awaited before each step and changes no number', async () => {
    await initBackend({ requested: 'cpu', env: {} });
    const config = oneRun(tinyMlp, 'muon', 0, { steps: 12 });
    const plain: StepRecord[] = [];
    await train(config, { onRecord: (r) => plain.push(r) });

    const waited: StepRecord[] = [];
    let calls = 0;
    const order: string[] = [];
    await train(config, {
      onRecord: (r) => {
        waited.push(r);
        order.push(`record ${r.step}`);
      },
      betweenSteps: async () => {
        calls++;
        order.push(`between ${calls}`);
        // A real task boundary, like a paused page waiting for Resume.
        await new Promise((resolve) => setTimeout(resolve, 2));
      },
    });
    expect(calls).toBe(12);
    expect(order.slice(0, 4)).toEqual(['between 1', 'record 1', 'between 2', 'record 2']);
    expect(waited.map(numbers)).toEqual(plain.map(numbers));
  });
});
