/**
 * The bench's target checks on given figures (no timing): the LM targets — AdamW LM step
 * ≤ 2× FLOPs ÷ the rate of its own matmuls, Muon/AdamW within 1.25× of the FLOP model's ratio, no
 * tensor growth — pass and fail where they should.
 */
import { describe, expect, it } from 'vitest';
import { checkTargets, type BackendBench, type BenchCase } from '../../src/bench/bench.js';

const spread = { median: 1, q1: 1, q3: 1, min: 1, max: 1, n: 20 };

function benchCase(model: string, optimizer: string, stepMs: number, flops: number, rateGflops: number): BenchCase {
  return { model, optimizer, stepMs, spread, flops, rateGflops, efficiency: stepMs / (flops / (rateGflops * 1e6)) };
}

function bench(lm: { adamwMs: number; muonMs: number; growth: number }): BackendBench {
  // lm-dense: 1.5 GFLOP at 6 GFLOP/s = 250 ms of matmuls; Muon adds 10% FLOPs.
  const cases = [
    benchCase('mlp', 'adamw', 10, 156e6, 20),
    benchCase('mlp', 'muon', 60, 1351e6, 20),
    benchCase('lm-dense', 'adamw', lm.adamwMs, 1.5e9, 6),
    benchCase('lm-dense', 'muon', lm.muonMs, 1.65e9, 6),
  ];
  const ratio = (model: string) => {
    const c = (o: string) => cases.find((x) => x.model === model && x.optimizer === o)!;
    return { model, measured: c('muon').stepMs / c('adamw').stepMs, flopModel: c('muon').flops / c('adamw').flops };
  };
  return {
    backend: 'wasm',
    matmulGflops: 20,
    matmulShapes: [],
    cases,
    lmMatmuls: [],
    precision: [],
    muonOverAdamw: [ratio('mlp'), ratio('lm-dense')],
    nsGflops: 18,
    nsOverMatmul: 0.9,
    tensorGrowth: 0,
    tensorGrowthByOptimizer: { adamw: 0, muon: 0 },
    lmTensorGrowth: { 'lm-dense adamw': 0, 'lm-dense muon': lm.growth },
    stateBytes: [],
    throughput: { workers1: 10, workersAll: 19, workers: 2, runs: 12, stepsPerRun: 150, rounds: 3, perRound: { workers1: [], workersAll: [] }, tasks: [] },
    seconds: 100,
  };
}

const verdict = (b: BackendBench, starts: string) => checkTargets(b).find((t) => t.target.startsWith(starts))?.pass;

describe('LM targets', () => {
  it('AdamW LM step: met at ≤ 2× its matmul time (250 ms here), missed above', () => {
    expect(verdict(bench({ adamwMs: 500, muonMs: 550, growth: 0 }), 'AdamW LM step (lm-dense)')).toBe(true);
    expect(verdict(bench({ adamwMs: 501, muonMs: 550, growth: 0 }), 'AdamW LM step (lm-dense)')).toBe(false);
  });

  it('Muon/AdamW: met up to 1.25 × the FLOP model ratio (1.1 here), missed above', () => {
    expect(verdict(bench({ adamwMs: 400, muonMs: 540, growth: 0 }), 'Muon/AdamW step (lm-dense)')).toBe(true);
    expect(verdict(bench({ adamwMs: 400, muonMs: 560, growth: 0 }), 'Muon/AdamW step (lm-dense)')).toBe(false);
  });

  it('tensor growth of any LM run fails its target', () => {
    expect(verdict(bench({ adamwMs: 400, muonMs: 440, growth: 0 }), 'zero tensor growth, LMs')).toBe(true);
    expect(verdict(bench({ adamwMs: 400, muonMs: 440, growth: 3 }), 'zero tensor growth, LMs')).toBe(false);
  });
});
