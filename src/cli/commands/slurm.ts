/** `slurm` (`npm run sandbox -- slurm …`): studies, tunings and runs as Slurm job arrays (docs/cluster.md). */
import { registerSlurmCommand } from '../slurm_command.js';
import type { RegisterCommand } from '../session.js';
import { reportCommand } from './report.js';

export const registerSlurm: RegisterCommand = (program) => {
  registerSlurmCommand(program, {
    report: async (dir) => {
      await reportCommand(dir);
    },
  });
};
