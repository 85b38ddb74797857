/**
 * Section "Detector calibration" of REPORT.md (study v3): the calibration a study spec records
 * (StudySpec.calibration, from calibrate.ts's calibration.json), which set the spike detectors of
 * some tasks and chose the detector the primary spike endpoints count. It was run before the study,
 * on seeds no study run uses, so the report shows the instrument's measured detection and
 * false-positive rates next to what it then counted.
 */
import { renderTable } from '../text/table.js';
import { calibrationTable, choiceLines, injectionsText } from './calibration.js';
import type { StudyResults } from './results.js';

/** The title of the section (REPORT.md's "## " heading). */
export const CALIBRATION_TITLE = 'Detector calibration';

/** The section, or '' for a study whose spec records no calibration. */
export function calibrationSection(r: StudyResults): string {
  const c = r.spec.calibration;
  if (!c) return '';
  const x = c.result;
  const table = calibrationTable(x);
  const unreached = x.rows[0]?.unreached ?? 0;
  return [
    `## ${CALIBRATION_TITLE}`,
    '',
    `Run before the study, on seeds no study run uses; it set the spike detectors of ${c.tasks.join(', ')} (their settings under "Protocol") and chose the detector the pre-registered spike endpoints count. ` +
      `${x.experiment}, ${x.labels.join(' and ')} at their tuned LRs with the study's stress schedule, ${x.steps} steps: clean seeds ${x.cleanSeeds.join(', ')} and injected seeds ${x.injectedSeeds.join(', ')} (backend ${x.backend}; \`${x.command}\`). ` +
      `Each injected run gets ${injectionsText(x)}; an injection is detected when the detector flags a step within ${x.window} steps of it. False positives: flag events on the clean runs per 1000 steps, per optimizer.` +
      (unreached > 0 ? ` ${unreached} injection(s) not scored: their run diverged before the window closed.` : ''),
    '',
    renderTable(table.head, table.rows),
    '',
    `Threshold rule: ${x.thresholdRule}. Chosen (←):`,
    '',
    ...choiceLines(x).map((l) => `- ${l}`),
    '',
    `Pre-registration rule: ${x.preRegistrationRule}. Pre-registered: **${x.preRegistered ?? 'none (no detector met the false-positive budget)'}**.`,
  ].join('\n');
}
