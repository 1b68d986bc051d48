// The agent page's charts start with what storage already holds: the
// `agent` input records the agent's own vitals_* metrics, so the last ten
// minutes of RSS, CPU and ingest rate are one /api/query away instead of
// building up from empty while the page is open. Gauges are charted as
// stored; CPU and ingest rate come from the differences of their counters.

export const HISTORY_QUERIES = {
  rssBytes: 'vitals_process_resident_memory_bytes',
  cpuPercent: 'vitals_process_cpu_seconds_total',
  ingestRate: 'vitals_component_samples_out_total{kind="input"}',
};

// A /api/query answer's first series as {xs: seconds, ys}.
export function gaugeHistory(answer) {
  const xs = [];
  const ys = [];
  for (const [ts, value] of answer?.series?.[0]?.points ?? []) {
    xs.push(ts / 1e9);
    ys.push(value);
  }
  return {xs, ys};
}

// The per-second rate of the counters of a /api/query answer, summed over
// its series at each timestamp (the agent input records them all at once),
// times `scale`. A decrease is a counter reset (an agent restart): no rate
// across it.
export function rateHistory(answer, scale = 1) {
  const sums = new Map();
  for (const series of answer?.series ?? []) {
    const points = series.points ?? [];
    for (let i = 1; i < points.length; i++) {
      const [t0, v0] = points[i - 1];
      const [t1, v1] = points[i];
      const dt = (t1 - t0) / 1e9;
      if (dt <= 0 || v1 < v0) continue;
      sums.set(t1, (sums.get(t1) ?? 0) + ((v1 - v0) / dt) * scale);
    }
  }
  const times = [...sums.keys()].sort((a, b) => a - b);
  return {xs: times.map((t) => t / 1e9), ys: times.map((t) => sums.get(t))};
}

// Fetches all three; a chart whose series is not stored stays empty. The
// page's live points are stamped with this browser's clock, so the history
// is moved by the difference between it and the agent's (`to` of an answer
// is the agent's now).
export async function loadAgentHistory(api, {from = '-10m', points = 1200, now = Date.now() / 1000} = {},
  signal = undefined) {
  const query = (match) => api.query({match, from, points, method: 'avg'}, signal);
  const [rss, cpu, ingest] = await Promise.all([
    query(HISTORY_QUERIES.rssBytes),
    query(HISTORY_QUERIES.cpuPercent),
    query(HISTORY_QUERIES.ingestRate),
  ]);
  const offset = Number.isFinite(rss?.to) ? now - rss.to / 1e9 : 0;
  const shifted = ({xs, ys}) => ({xs: xs.map((x) => x + offset), ys});
  return {
    rssBytes: shifted(gaugeHistory(rss)),
    cpuPercent: shifted(rateHistory(cpu, 100)),
    ingestRate: shifted(rateHistory(ingest)),
  };
}
