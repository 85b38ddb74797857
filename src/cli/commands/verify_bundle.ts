/**
 * `verify-bundle` (`npm run sandbox -- verify-bundle results/NAME`): re-derive a published bundle's
 * verdicts from its primary.json with an independent implementation of the tests and Holm
 * (study/rederive.ts), print the comparison, and exit 1 on any disagreement.
 */
import { rederivationTable, verifyBundle } from '../../study/rederive.js';
import type { RegisterCommand } from '../session.js';

function verifyBundleCommand(dir: string): 0 | 1 {
  const r = verifyBundle(dir);
  if (r.rows.length > 0) console.log(rederivationTable(r.rows));
  for (const n of r.notes) console.log(n);
  for (const p of r.problems) console.error(`disagreement: ${p}`);
  console.error(r.problems.length === 0 ? `${dir}: every verdict re-derives` : `${dir}: ${r.problems.length} disagreement(s)`);
  return r.problems.length === 0 ? 0 : 1;
}

export const registerVerifyBundle: RegisterCommand = (program, exit) => {
  program
    .command('verify-bundle')
    .description("re-derive a published bundle's verdicts from its primary.json (samples → exact rank-sum / permutation log-rank → Holm) with an implementation independent of the analysis's; exit 1 on any disagreement")
    .argument('<dir>', 'bundle folder, e.g. results/NAME')
    .action((dir: string) => exit(verifyBundleCommand(dir)));
};
