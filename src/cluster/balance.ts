/**
 * Cost-balanced shares: runs differ in cost by 100× (an MLP tuning run vs a transformer stress run),
 * so equal counts per array task leave most tasks idle while one finishes. Runs go longest first,
 * each to the share with the least estimated work so far (the longest-processing-time rule, which
 * the pool also uses inside a task). Ties break by position, so every array task, planning on its
 * own, computes the same assignment.
 */

/** For each item, the 0-based share (of `shares`) it belongs to. */
export function assignShares(costs: readonly number[], shares: number): number[] {
  if (!(Number.isInteger(shares) && shares >= 1)) throw new Error(`assignShares: shares = ${shares}: expected a positive integer`);
  const load = new Array<number>(shares).fill(0);
  const out = new Array<number>(costs.length).fill(0);
  const order = costs.map((_, i) => i).sort((a, b) => costs[b]! - costs[a]! || a - b);
  for (const i of order) {
    let at = 0;
    for (let s = 1; s < shares; s++) if (load[s]! < load[at]!) at = s;
    out[i] = at;
    load[at]! += costs[i]!;
  }
  return out;
}

/** The estimated work of each share under `assignShares`. */
export function shareLoads(costs: readonly number[], shares: number): number[] {
  const load = new Array<number>(shares).fill(0);
  assignShares(costs, shares).forEach((s, i) => (load[s]! += costs[i]!));
  return load;
}
