/**
 * The conformance kit: the generic checks every shipped optimizer passes, runnable on any
 * registered optimizer (a user's variant included) by name, from the CLI (`check-optimizer`) or
 * from vitest (`checkOptimizer`). In the spirit of pytorch_optimizer, which runs each of its
 * optimizers through the same tests: a variant's author learns whether it is sound before
 * comparing it with anything.
 *
 * Each check builds what it needs from a seeded generator, disposes it, and reports pass, fail
 * (with the reason) or skip (with why it cannot apply). The model-level checks use a tiny Dense
 * network (tfjs-layers) and the sandbox's own training loop on a small MNIST MLP.
 */
import { currentBackend, initBackend, type BackendName } from '../backend.js';
import { createOptimizer, listOptimizers, type OptimizerInfo } from '../optimizers/index.js';
import { renderTable } from '../text/table.js';
import { CheckFailure, CONFORMANCE_CHECKS, checks, type CheckId, type Ctx } from './conformance_checks.js';

// The check list and its ids are part of this module's public face (src/index.ts re-exports them).
export { CONFORMANCE_CHECKS, type CheckId };

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  readonly check: CheckId;
  readonly backend: string;
  readonly status: CheckStatus;
  /** What was measured (pass), the reason (fail), or why the check cannot apply (skip). */
  readonly detail: string;
  readonly ms: number;
}

export interface ConformanceReport {
  readonly optimizer: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly info: OptimizerInfo;
  readonly results: readonly CheckResult[];
  /** One line per failed check: "<backend> <check>: <reason>". Empty when everything passed. */
  readonly failures: readonly string[];
  readonly passed: boolean;
}

export interface ConformanceOptions {
  /** Options the optimizer is built with in every check (default: its defaults). */
  readonly options?: Readonly<Record<string, unknown>>;
  /** Backends to run on, in order (default: the current one). The current backend is restored after. */
  readonly backends?: readonly BackendName[];
  /** Checks that cannot apply to this optimizer, with the reason (reported as skipped). */
  readonly skip?: Readonly<Partial<Record<CheckId, string>>>;
  /** Only these checks (default: all). */
  readonly only?: readonly CheckId[];
}

// ------------------------------------------------------------------ running the kit

/**
 * Run the conformance checks on a registered optimizer. Never throws for a failing check: each
 * result says pass, fail (with the reason) or skip; `failures` lists the failed ones.
 * An unknown name throws (an OptionError naming the known optimizers).
 */
export async function checkOptimizer(name: string, o: ConformanceOptions = {}): Promise<ConformanceReport> {
  const info = listOptimizers().find((x) => x.name === name);
  const options = o.options ?? {};
  // Bad names and bad options fail here, in one line, before any check runs.
  createOptimizer(name, { ...options }).dispose();
  const original = currentBackend().name;
  const backends = o.backends ?? [original];
  const results: CheckResult[] = [];
  const ctx: Ctx = { name, info: info!, options, make: () => createOptimizer(name, { ...options }) };
  try {
    for (const backend of backends) {
      await initBackend({ requested: backend });
      for (const { id } of CONFORMANCE_CHECKS) {
        if (o.only && !o.only.includes(id)) continue;
        const skip = o.skip?.[id];
        if (skip) {
          results.push({ check: id, backend, status: 'skip', detail: skip, ms: 0 });
          continue;
        }
        const started = performance.now();
        let status: CheckStatus = 'pass';
        let detail: string;
        try {
          detail = await checks[id](ctx);
        } catch (e) {
          status = 'fail';
          detail = e instanceof CheckFailure ? e.message : `threw ${(e as Error)?.name ?? 'an error'}: ${String((e as Error)?.message ?? e).split('\n')[0]}`;
        }
        results.push({ check: id, backend, status, detail, ms: performance.now() - started });
      }
    }
  } finally {
    await initBackend({ requested: original });
  }
  const failures = results.filter((r) => r.status === 'fail').map((r) => `${r.backend} ${r.check}: ${r.detail}`);
  return { optimizer: name, options, info: info!, results, failures, passed: failures.length === 0 };
}

/** The report as text: the options with their defaults and sources, then a pass/fail table and the reasons. */
export function formatConformance(report: ConformanceReport): string {
  const backends = [...new Set(report.results.map((r) => r.backend))];
  const given = Object.keys(report.options);
  const lines: string[] = [
    `${report.optimizer} (${report.info.className}): ${report.info.description}`,
    '',
    renderTable(
      ['option', 'default', 'accepts', 'source'],
      report.info.options.map((opt) => [
        given.includes(opt.name) ? `${opt.name} (checked with ${JSON.stringify(report.options[opt.name])})` : opt.name,
        JSON.stringify(opt.default),
        opt.accepts,
        opt.source,
      ]),
    ),
    '',
  ];
  const rows = CONFORMANCE_CHECKS.filter(({ id }) => report.results.some((r) => r.check === id)).map(({ id, title }) => [
    id,
    title,
    ...backends.map((b) => {
      const r = report.results.find((x) => x.check === id && x.backend === b);
      if (!r) return '';
      return r.status === 'pass' ? `pass (${Math.round(r.ms)} ms)` : r.status === 'fail' ? 'FAIL' : 'skip';
    }),
  ]);
  lines.push(renderTable(['check', 'what', ...backends], rows));
  const notes = report.results.filter((r) => r.status !== 'pass');
  if (notes.length > 0) {
    lines.push('');
    for (const r of notes) lines.push(`${r.status === 'fail' ? 'FAIL' : 'skip'} ${r.backend} ${r.check}: ${r.detail}`);
  }
  const failed = report.failures.length;
  lines.push('', failed === 0 ? `${report.optimizer}: all checks passed` : `${report.optimizer}: ${failed} check${failed > 1 ? 's' : ''} failed`);
  return lines.join('\n');
}
