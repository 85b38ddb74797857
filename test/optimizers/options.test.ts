/** Bad options are rejected with a message naming the option, the value and the accepted range. */
import { describe, expect, it } from 'vitest';
import { Adam, AdamW, Muon, MuonCubic, NorMuon, OptionError, SGD, createOptimizer, listOptimizers } from '../../src/index.js';

/** Constructors take typed options; these tests pass deliberately wrong ones. */
const untyped = (o: Record<string, unknown>): never => o as never;

describe('option validation', () => {
  it('negative learningRate', () => {
    for (const make of [() => new AdamW({ learningRate: -0.1 }), () => new Muon({ learningRate: -0.1 }), () => createOptimizer('sgd', { learningRate: -0.1 })]) {
      expect(make).toThrow(OptionError);
      expect(make).toThrow(/"learningRate" = -0\.1 .*\[0, ∞\)/);
    }
  });

  it('beta1 = 1 and beta1 = -0.1 (range [0, 1))', () => {
    expect(() => new AdamW({ beta1: 1 })).toThrow(/AdamW: option "beta1" = 1 is out of range: expected a number in \[0, 1\)/);
    expect(() => new AdamW({ beta1: -0.1 })).toThrow(/"beta1" = -0\.1 .*\[0, 1\)/);
    expect(() => new Adam({ beta1: 1 })).toThrow(/"beta1" = 1 .*\[0, 1\)/);
    expect(() => createOptimizer('adamw', { beta1: -0.1 })).toThrow(/"beta1" = -0\.1 .*\[0, 1\)/);
  });

  it('beta2 = 1', () => {
    expect(() => new AdamW({ beta2: 1 })).toThrow(/"beta2" = 1 .*\[0, 1\)/);
    expect(() => new NorMuon({ beta2: 1 })).toThrow(/NorMuon: option "beta2" = 1 .*\[0, 1\)/);
  });

  it('momentum = 1 for SGD and Muon', () => {
    expect(() => new SGD({ momentum: 1 })).toThrow(/"momentum" = 1 .*\[0, 1\)/);
    expect(() => new Muon({ momentum: 1 })).toThrow(/"momentum" = 1 .*\[0, 1\)/);
  });

  it('nsSteps 0, 100 and 2.5 (an integer in 1..99)', () => {
    for (const v of [0, 100, 2.5]) {
      const re = new RegExp(`Muon: option "nsSteps" = ${v.toString().replace('.', '\\.')} is out of range: expected an integer in 1\\.\\.99`);
      expect(() => new Muon({ nsSteps: v })).toThrow(re);
      expect(() => createOptimizer('muon', { nsSteps: v })).toThrow(re);
    }
    expect(() => new MuonCubic({ nsSteps: 0 })).toThrow(/MuonCubic: option "nsSteps" = 0 .*1\.\.99/);
  });

  it("lrAdjust 'foo'", () => {
    expect(() => new Muon({ lrAdjust: 'foo' as never })).toThrow(/"lrAdjust" = "foo" .*'original', 'match_rms_adamw'/);
    expect(() => createOptimizer('muon', { lrAdjust: 'foo' })).toThrow(
      /Muon: option "lrAdjust" = "foo" is out of range: expected one of 'original', 'match_rms_adamw'/,
    );
  });

  it('wrong types: strings for numbers, numbers for booleans, NaN and Infinity', () => {
    expect(() => createOptimizer('adamw', { learningRate: '0.1' })).toThrow(/"learningRate" = "0\.1"/);
    expect(() => createOptimizer('adamw', { amsgrad: 1 })).toThrow(/"amsgrad" = 1 .*true or false/);
    expect(() => createOptimizer('adamw', { epsilon: Number.NaN })).toThrow(/"epsilon"/);
    expect(() => createOptimizer('adamw', { weightDecay: Number.POSITIVE_INFINITY })).toThrow(/"weightDecay"/);
    expect(() => createOptimizer('muon', { nsCoefficients: [1, 2] })).toThrow(/"nsCoefficients" = \[1,2\]/);
    expect(() => createOptimizer('muon', { exclude: '(' })).toThrow(/"exclude" = "\("/);
    expect(() => createOptimizer('muon', { exclude: 3 })).toThrow(/"exclude" = 3/);
  });

  it('unknown option name, listing the known ones', () => {
    expect(() => new AdamW(untyped({ lr: 0.1 }))).toThrow(/AdamW: unknown option "lr"; known options: .*learningRate/);
    expect(() => createOptimizer('muon', { nesterovv: true })).toThrow(/Muon: unknown option "nesterovv"; known options: .*nesterov/);
  });

  it('unknown optimizer name, listing the known ones', () => {
    const names = listOptimizers().map((o) => o.name);
    expect(names).toEqual(expect.arrayContaining(['adamw', 'adam', 'sgd', 'muon', 'normuon', 'muon-cubic', 'lion']));
    let message = '';
    try {
      createOptimizer('adafactor');
    } catch (e) {
      expect(e).toBeInstanceOf(OptionError);
      message = (e as Error).message;
    }
    expect(message).toMatch(/unknown optimizer "adafactor"; known optimizers: /);
    for (const n of names) expect(message).toContain(n);
  });

  it('nested adamw.beta2 = 1 names "adamw.beta2"', () => {
    expect(() => new Muon({ adamw: untyped({ beta2: 1 }) })).toThrow(
      /Muon: option "adamw\.beta2" = 1 is out of range: expected a number in \[0, 1\)/,
    );
    expect(() => createOptimizer('normuon', { adamw: { learningRate: -1 } })).toThrow(/"adamw\.learningRate" = -1 .*\[0, ∞\)/);
    expect(() => createOptimizer('muon', { adamw: { lr: 1 } })).toThrow(/"adamw\.lr" = 1 .*learningRate/);
    expect(() => createOptimizer('muon', { adamw: 5 })).toThrow(/"adamw" = 5/);
  });

  it('valid edge values are accepted', () => {
    expect(() => new AdamW({ learningRate: 0, beta1: 0, beta2: 0.999999, weightDecay: 0 })).not.toThrow();
    expect(() => new Muon({ nsSteps: 1 })).not.toThrow();
    expect(() => new Muon({ nsSteps: 99, lrAdjust: 'match_rms_adamw', exclude: ['^emb', /head$/] })).not.toThrow();
    expect(new Muon({ adamw: untyped({ beta2: 0.99 }) }).options.adamw).toEqual({
      learningRate: 3e-4,
      beta1: 0.9,
      beta2: 0.99,
      epsilon: 1e-10,
      weightDecay: 0,
      amsgrad: false,
    });
  });
});
