/** Registration with tfjs serialisation and the sandbox registry; config round trips. */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Adam,
  AdamW,
  ComposedOptimizer,
  Lion,
  Muon,
  MuonCubic,
  NorMuon,
  SGD,
  createOptimizer,
  currentBackend,
  initBackend,
  listOptimizers,
  tf,
} from '../../src/index.js';
import type { AnyOptimizer } from './harness.js';

beforeAll(async () => {
  await initBackend();
});

const classes = [
  { cls: AdamW, className: 'AdamW', name: 'adamw' },
  { cls: Adam, className: 'TorchAdam', name: 'adam' },
  { cls: SGD, className: 'TorchSGD', name: 'sgd' },
  { cls: Muon, className: 'Muon', name: 'muon' },
  { cls: NorMuon, className: 'NorMuon', name: 'normuon' },
  { cls: MuonCubic, className: 'MuonCubic', name: 'muon-cubic' },
  { cls: Lion, className: 'Lion', name: 'lion' },
] as const;

const classNameMap = (): (typeof tf.serialization.SerializationMap.prototype)['classNameMap'] =>
  tf.serialization.SerializationMap.getMap().classNameMap;

/** Deserialise through tfjs's registry, the way tfjs-layers does on load. */
function roundTrip(opt: AnyOptimizer, extra: tf.serialization.ConfigDict = {}): ComposedOptimizer {
  const entry = classNameMap()[opt.getClassName()];
  if (!entry) throw new Error(`${opt.getClassName()} is not registered`);
  const [cls, fromConfig] = entry;
  const json = JSON.parse(JSON.stringify({ class_name: opt.getClassName(), config: opt.getConfig() })) as {
    config: tf.serialization.ConfigDict;
  };
  const back = fromConfig(cls, { ...json.config, ...extra });
  if (!(back instanceof ComposedOptimizer)) throw new Error('fromConfig did not build a ComposedOptimizer');
  return back;
}

describe('registration', () => {
  it('runs on the requested backend (OPT_SANDBOX_BACKEND, else the automatic choice)', () => {
    expect(tf.getBackend()).toBe(currentBackend().name);
    const requested = process.env['OPT_SANDBOX_BACKEND'];
    if (requested) expect(tf.getBackend()).toBe(requested);
  });

  for (const { cls, className, name } of classes) {
    it(`${className}: className, registry entry, tfjs serialisation map`, () => {
      expect(cls.className).toBe(className);
      const opt = new cls();
      expect(opt.getClassName()).toBe(className);
      expect(opt).toBeInstanceOf(tf.Optimizer);
      expect(classNameMap()[className]?.[0]).toBe(cls);
      const info = listOptimizers().find((o) => o.name === name);
      expect(info?.className).toBe(className);
      expect(createOptimizer(name)).toBeInstanceOf(cls);
      // Every documented option has a default equal to the constructed optimizer's config.
      const config = opt.getConfig();
      for (const o of info!.options) expect(config[o.name]).toEqual(o.default);
      expect(Object.keys(config).sort()).toEqual(info!.options.map((o) => o.name).sort());
      opt.dispose();
    });
  }

  it('tfjs’s own Adam and SGD are not replaced', () => {
    expect(classNameMap()['Adam']?.[0]).toBe(tf.AdamOptimizer);
    expect(classNameMap()['SGD']?.[0]).toBe(tf.SGDOptimizer);
  });

  it('class names are unique', () => {
    const names = listOptimizers().map((o) => o.className);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('getConfig → fromConfig round trip', () => {
  const configured: [string, () => AnyOptimizer][] = [
    ['AdamW', () => new AdamW({ learningRate: 3e-3, beta1: 0.8, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.2, amsgrad: true })],
    ['TorchAdam', () => new Adam({ learningRate: 2e-3, weightDecay: 0.01, amsgrad: true })],
    ['TorchSGD', () => new SGD({ learningRate: 0.1, momentum: 0.5, nesterov: true, weightDecay: 1e-4 })],
    [
      'Muon',
      () =>
        new Muon({
          learningRate: 0.01,
          momentum: 0.9,
          nesterov: false,
          nsSteps: 7,
          nsCoefficients: [
            [3.4445, -4.775, 2.0315],
            [1.5, -0.5, 0],
          ],
          weightDecay: 0.1,
          lrAdjust: 'match_rms_adamw',
          exclude: ['^embed', 'head$'],
          adamw: { learningRate: 1e-3, beta1: 0.85, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.05, amsgrad: true },
        }),
    ],
    ['NorMuon', () => new NorMuon({ beta2: 0.9, normEpsilon: 1e-6, lrAdjust: 'match_rms_adamw' })],
    ['MuonCubic', () => new MuonCubic({ nsSteps: 15 })],
    ['Lion', () => new Lion({ learningRate: 3e-4, beta1: 0.8, beta2: 0.95, weightDecay: 0.3 })],
  ];

  for (const [label, make] of configured) {
    it(`${label} (non-default options)`, () => {
      const opt = make();
      const back = roundTrip(opt);
      expect(back.getClassName()).toBe(opt.getClassName());
      expect(back.getConfig()).toEqual(opt.getConfig());
      expect(back.options).toEqual(opt.options);
      opt.dispose();
      back.dispose();
    });
  }

  it('fromConfig ignores the customObjects that tfjs-layers passes along', () => {
    const opt = new Muon({ learningRate: 0.05 });
    const back = roundTrip(opt, { customObjects: {} });
    expect(back).toBeInstanceOf(Muon);
    expect(back.getConfig()).toEqual(opt.getConfig());
  });

  it('a RegExp exclude serialises to its pattern; a predicate to null', () => {
    const withRegExp = new Muon({ exclude: /^router\// });
    expect(withRegExp.getConfig()['exclude']).toEqual(['^router\\/']);
    expect(roundTrip(withRegExp).groupOf({ name: 'router/kernel', shape: [4, 4] })).toBe('adamw');
    const withFn = new Muon({ exclude: () => true });
    expect(withFn.getConfig()['exclude']).toBeNull();
  });
});
