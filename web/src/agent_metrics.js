// Turns two snapshots of /api/performance/metrics into what the agent page
// shows: rates from counter deltas, totals, per-component rows.

const KIND_ORDER = ['input', 'processor', 'storage', 'output', 'optimizer'];

// {at: seconds, metrics: [{name, labels, value}]} -> summary; prev may be null
// (rates are then null until the next snapshot).
export function summarize(prev, cur) {
  const dt = prev ? cur.at - prev.at : 0;
  const rate = (now, before) => (dt > 0 && before !== undefined && now >= before ? (now - before) / dt : null);
  const before = prev ? index(prev.metrics) : new Map();
  const now = index(cur.metrics);

  const components = new Map();
  for (const m of cur.metrics) {
    const id = m.labels?.component;
    if (!id || !m.name.startsWith('vitals_component_')) continue;
    if (!components.has(id))
      components.set(id, {id, kind: m.labels.kind ?? '', plugin: m.labels.plugin ?? '', inRate: null, outRate: null,
        queue: 0, drops: 0, errors: 0});
    const row = components.get(id);
    const key = keyOf(m);
    switch (m.name) {
      case 'vitals_component_samples_in_total':
        row.inRate = rate(m.value, before.get(key));
        break;
      case 'vitals_component_samples_out_total':
        row.outRate = rate(m.value, before.get(key));
        row.samplesOut = m.value;
        break;
      case 'vitals_component_queue_depth_samples':
        row.queue = m.value;
        break;
      case 'vitals_component_dropped_samples_total':
        row.drops = m.value;
        row.dropRate = rate(m.value, before.get(key));
        break;
      case 'vitals_component_errors_total':
        row.errors = m.value;
        break;
      default:
        break;
    }
  }
  const rows = [...components.values()].sort(
    (a, b) => kindRank(a.kind) - kindRank(b.kind) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const sum = (f) => rows.reduce((acc, r) => acc + (f(r) ?? 0), 0);
  const inputs = rows.filter((r) => r.kind === 'input');
  const cpuNow = now.get('vitals_process_cpu_seconds_total');
  const cpuRate = rate(cpuNow, before.get('vitals_process_cpu_seconds_total'));
  return {
    ingestRate: inputs.length && inputs.every((r) => r.outRate !== null) ? sum((r) => r.outRate) : null,
    queueDepth: sum((r) => r.queue),
    drops: sum((r) => r.drops),
    errors: sum((r) => r.errors),
    rssBytes: now.get('vitals_process_resident_memory_bytes') ?? null,
    cpuPercent: cpuRate === null ? null : cpuRate * 100,
    openFds: now.get('vitals_process_open_fds') ?? null,
    threads: now.get('vitals_process_threads') ?? null,
    series: cur.series ?? now.get('vitals_series_count') ?? null,
    components: rows,
  };
}

function kindRank(kind) {
  const i = KIND_ORDER.indexOf(kind);
  return i < 0 ? KIND_ORDER.length : i;
}

function keyOf(m) {
  const labels = Object.entries(m.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  return labels.length ? `${m.name}{${labels.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}` : m.name;
}

function index(metrics) {
  const map = new Map();
  for (const m of metrics) map.set(keyOf(m), m.value);
  return map;
}
