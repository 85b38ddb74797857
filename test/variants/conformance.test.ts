/**
 * The conformance kit: every registered optimizer passes it, and deliberately broken variants
 * fail it with a message naming the check.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  OptionError,
  checkOptimizer,
  defineOptimizer,
  formatConformance,
  initBackend,
  learningRate,
  listOptimizers,
  tf,
  transforms,
  CONFORMANCE_CHECKS,
  type OptionSpec,
} from '../../src/index.js';

beforeAll(async () => {
  await initBackend();
});

const ALL_CHECKS = CONFORMANCE_CHECKS.map((c) => c.id);
/** Taken before this file defines its broken variants below. */
const REGISTERED = listOptimizers().map((o) => o.name);

describe('every registered optimizer passes the kit', () => {
  for (const name of REGISTERED) {
    it(name, async () => {
      const report = await checkOptimizer(name);
      expect(report.failures, formatConformance(report)).toEqual([]);
      expect(report.results.map((r) => [r.check, r.status])).toEqual(ALL_CHECKS.map((c) => [c, 'pass']));
    });
  }
});

/** Plain SGD whose transform keeps a copy of every update it sees: one more tensor per step. */
const leaked: tf.Tensor[] = [];
defineOptimizer({
  name: 'kit-test-leaky',
  className: 'KitTestLeaky',
  description: 'keeps every update (a leak)',
  options: { learningRate: learningRate(1e-2, 'test') },
  plan: (o) => ({
    groups: {
      main: {
        learningRate: o.learningRate,
        transform: {
          name: 'hoard',
          slots: () => ({}),
          update: (u) => {
            leaked.push(tf.keep(tf.clone(u)));
            return u;
          },
        },
      },
    },
  }),
});

/** An option whose JSON form reads back as a different (valid) value: getConfig does not round-trip. */
const doubledOnSave: OptionSpec<number> = {
  default: 0.9,
  doc: 'momentum, written to the config doubled',
  source: 'test',
  accepts: 'a number in [0, 10)',
  parse: (v) => (typeof v === 'number' && v >= 0 && v < 10 ? v : undefined),
  toJSON: (v) => v * 2,
};
defineOptimizer({
  name: 'kit-test-lossy-config',
  className: 'KitTestLossyConfig',
  description: 'heavy-ball SGD whose config does not round-trip',
  options: { learningRate: learningRate(1e-2, 'test'), momentum: doubledOnSave },
  plan: (o) => ({
    groups: { main: { learningRate: o.learningRate, transform: transforms.heavyBallMomentum(o.momentum / 10, false) } },
  }),
});

describe('deliberately broken variants fail, naming the check', () => {
  it('a variant that leaks tensors fails no-tensor-growth, and only that', async () => {
    const report = await checkOptimizer('kit-test-leaky');
    expect(report.passed).toBe(false);
    expect(report.failures).toHaveLength(1);
    // One kept tensor per parameter (3) per step.
    expect(report.failures[0]).toMatch(/^\w+ no-tensor-growth: 300 more tensors \(\d+ more bytes\) after 100 more steps/);
    const text = formatConformance(report);
    expect(text).toMatch(/\| no-tensor-growth +\| .* \| FAIL/);
    expect(text).toContain('kit-test-leaky: 1 check failed');
    tf.dispose(leaked.splice(0));
  });

  it('a variant whose config does not round-trip fails config-round-trip with the key and values (and save-reload)', async () => {
    const report = await checkOptimizer('kit-test-lossy-config');
    expect(report.passed).toBe(false);
    expect(report.failures).toEqual([
      expect.stringMatching(/^\w+ config-round-trip: the config changed in the round trip: "momentum": 1\.8 became 3\.6$/),
      // The reloaded model rebuilds its optimizer from the same lossy config, so it steps elsewhere.
      expect.stringMatching(/^\w+ save-reload: the step after reloading differs from the unsaved optimizer's/),
    ]);
  });

  it('an unknown name or a bad option throws before any check runs', async () => {
    await expect(checkOptimizer('no-such-optimizer')).rejects.toThrow(OptionError);
    await expect(checkOptimizer('adamw', { options: { beta1: 2 } })).rejects.toThrow(/option "beta1" = 2/);
  });

  it('skips a check that cannot apply, with the reason', async () => {
    const report = await checkOptimizer('sgd', { only: ['options', 'trains'], skip: { trains: 'needs attention layers' } });
    expect(report.results.map((r) => [r.check, r.status, r.detail])).toEqual([
      ['options', 'pass', expect.stringContaining('4 options')],
      ['trains', 'skip', 'needs attention layers'],
    ]);
    expect(formatConformance(report)).toContain('skip');
  });
});
