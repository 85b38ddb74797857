/** A duration for people: "42 s", "12.5 min", or hours from two hours on ("14.6 h"); never "60 s". */
export function formatDuration(seconds: number): string {
  if (Math.ceil(seconds) < 60) return `${Math.ceil(seconds)} s`;
  return seconds < 7200 ? `${(seconds / 60).toFixed(1)} min` : `${(seconds / 3600).toFixed(1)} h`;
}
