/**
 * `restore` (`npm run sandbox -- restore BUNDLE --out DIR`): reopen a published results bundle as a
 * study folder (study/restore.ts), to resume the study there (rerun its study command with
 * `--out DIR`: the restored runs are skipped) or to read it as a folder.
 */
import { restoreBundle } from '../../study/restore.js';
import { count } from '../../text/plural.js';
import { flag, withOptions } from '../flags.js';
import type { RegisterCommand } from '../session.js';

function restoreCommand(bundle: string, flags: { out: string }): 0 {
  const started = performance.now();
  const r = restoreBundle(bundle, flags.out);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.error(
    `restored ${bundle} → ${flags.out}: study ${r.study}, ${count(r.restored, 'run')} written${r.kept ? `, ${r.kept} already finished there (kept)` : ''} in ${seconds} s`,
  );
  // A resumed study skips a run only on the backend it ran on (numbers differ slightly between backends).
  const backend = r.backends.length === 1 ? ` --backend ${r.backends[0]}` : '';
  console.error(`resume: rerun the command that started study ${r.study} with --out ${flags.out}${backend}; restored runs are skipped`);
  return 0;
}

export const registerRestore: RegisterCommand = (program, exit) => {
  withOptions(
    program
      .command('restore')
      .description(
        'reopen a published results bundle (see publish) as a study folder: study.json, each run’s summary.json and the per-step records the bundle keeps; rerun the study with --out on it to finish it, restored runs skipped',
      )
      .argument('<bundle>', 'bundle folder, e.g. results/NAME'),
    flag.out('study folder to write (new, empty, or holding the same study: finished runs there are kept)').makeOptionMandatory(),
  ).action((bundle: string, flags: { out: string }) => exit(restoreCommand(bundle, flags)));
};
