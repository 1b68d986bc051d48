// Summaries of /api/performance/metrics for the agent page.
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {summarize} from '../src/agent_metrics.js';

function snapshot(at, {inputOut, storageIn, queue, drops, errors, cpu, rss}) {
  const c = (component, kind, plugin) => ({component, kind, plugin});
  return {
    at,
    series: 12,
    metrics: [
      {name: 'vitals_component_samples_out_total', labels: c('cpu', 'input', 'cpu'), value: inputOut},
      {name: 'vitals_component_samples_in_total', labels: c('local', 'storage', 'sqlite'), value: storageIn},
      {name: 'vitals_component_queue_depth_samples', labels: c('local', 'storage', 'sqlite'), value: queue},
      {name: 'vitals_component_dropped_samples_total', labels: c('local', 'storage', 'sqlite'), value: drops},
      {name: 'vitals_component_errors_total', labels: c('cpu', 'input', 'cpu'), value: errors},
      {name: 'vitals_process_cpu_seconds_total', labels: {}, value: cpu},
      {name: 'vitals_process_resident_memory_bytes', labels: {}, value: rss},
    ],
  };
}

test('rates come from two snapshots; totals and gauges from the latest', () => {
  const first = snapshot(100, {inputOut: 1000, storageIn: 900, queue: 5, drops: 0, errors: 1, cpu: 10, rss: 1e6});
  const second = snapshot(102, {inputOut: 1400, storageIn: 1300, queue: 7, drops: 3, errors: 1, cpu: 10.1, rss: 2e6});
  const before = summarize(null, first);
  assert.equal(before.ingestRate, null);
  assert.equal(before.cpuPercent, null);
  const s = summarize(first, second);
  assert.equal(s.ingestRate, 200);
  assert.ok(Math.abs(s.cpuPercent - 5) < 1e-9);
  assert.equal(s.rssBytes, 2e6);
  assert.equal(s.queueDepth, 7);
  assert.equal(s.drops, 3);
  assert.equal(s.errors, 1);
  assert.equal(s.series, 12);
  assert.deepEqual(s.components.map((r) => r.id), ['cpu', 'local']);
  assert.equal(s.components[1].inRate, 200);
});

test('a counter that went backwards (a restart) gives no rate', () => {
  const first = snapshot(100, {inputOut: 1000, storageIn: 0, queue: 0, drops: 0, errors: 0, cpu: 10, rss: 1});
  const second = snapshot(101, {inputOut: 10, storageIn: 0, queue: 0, drops: 0, errors: 0, cpu: 0.1, rss: 1});
  const s = summarize(first, second);
  assert.equal(s.ingestRate, null);
  assert.equal(s.cpuPercent, null);
});
