// Reconnect delays: exponential from baseMs, capped at maxMs, with "equal
// jitter" (half fixed, half random) so that many dashboards reconnecting
// after an agent restart do not arrive together.
export function backoffDelayMs(attempt, {baseMs = 500, maxMs = 30000, random = Math.random} = {}) {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
