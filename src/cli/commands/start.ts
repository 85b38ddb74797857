/** `start` (`npm start`): the main job, `run` of the catalog's main experiments. */
import { MAIN_EXPERIMENTS } from '../../catalog/experiments.js';
import type { RegisterCommand } from '../session.js';
import { addRunFlags, runExperiments, type RunFlags } from './run.js';

// The language model takes minutes per run, too long for the main job's 3-minute budget.
const LM_HINT = 'the tiny MoE language model on the Brown Corpus (minutes per run): npm run exp:lm  (a smoke version: npm run exp:lm -- --quick)';

export const registerStart: RegisterCommand = (program, exit) => {
  addRunFlags(
    program.command('start').description(`the main job: ${MAIN_EXPERIMENTS.join(' and ')}, Muon vs AdamW, 3 seeds, charts and a summary table`),
  ).action(async (flags: RunFlags) => exit(await runExperiments(MAIN_EXPERIMENTS, flags, 'main', LM_HINT)));
};
