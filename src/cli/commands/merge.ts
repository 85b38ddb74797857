/** `merge` (`npm run merge`): join the shard folders of one study into one study folder. */
import { Option } from 'commander';
import { mergeStudies } from '../../study/merge.js';
import { count } from '../../text/plural.js';
import { flag, withOptions } from '../flags.js';
import type { RegisterCommand } from '../session.js';

function mergeCommand(dirs: readonly string[], flags: { out: string; force?: boolean }): 0 {
  // Shards that cannot be merged are UsageErrors from mergeStudies; a busy folder or a full disk keeps its own error.
  const r = mergeStudies(dirs, flags.out, { force: flags.force === true });
  console.log(`merged ${count(dirs.length, 'folder')} → ${flags.out}: ${count(r.copied, 'run')}, ${r.duplicates} duplicates kept once, ${r.unfinishedSkipped} unfinished skipped`);
  return 0;
}

export const registerMerge: RegisterCommand = (program, exit) => {
  withOptions(
    program.command('merge').description('join shard outputs of one study into one study folder').argument('<dirs...>', 'shard study folders'),
    flag.out('merged study folder').makeOptionMandatory(),
    new Option('--force', 'merge shards computed on different backends or git commits (refused by default: their numbers differ)'),
  ).action((dirs: string[], flags: { out: string; force?: boolean }) => exit(mergeCommand(dirs, flags)));
};
