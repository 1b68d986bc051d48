// The agent page's backfill from stored self-metrics.
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {gaugeHistory, HISTORY_QUERIES, loadAgentHistory, rateHistory} from '../src/agent_history.js';

const s = (seconds) => seconds * 1e9;

test('gauges are charted as stored, times in seconds', () => {
  const answer = {series: [{series: 'vitals_process_resident_memory_bytes', points: [[s(100), 5e6], [s(110), 6e6]]}]};
  assert.deepEqual(gaugeHistory(answer), {xs: [100, 110], ys: [5e6, 6e6]});
  assert.deepEqual(gaugeHistory({series: []}), {xs: [], ys: []});
  assert.deepEqual(gaugeHistory(null), {xs: [], ys: []});
});

test('counters become per-second rates, summed over series at each timestamp', () => {
  const answer = {
    series: [
      {series: 'a', points: [[s(100), 1000], [s(110), 2000], [s(120), 2500]]},
      {series: 'b', points: [[s(100), 10], [s(110), 110], [s(120), 310]]},
    ],
  };
  const r = rateHistory(answer);
  assert.deepEqual(r.xs, [110, 120]);
  assert.deepEqual(r.ys, [100 + 10, 50 + 20]);
});

test('CPU seconds become a percentage; a counter reset leaves a gap instead of a negative rate', () => {
  const answer = {series: [{series: 'cpu', points: [[s(0), 5], [s(10), 6], [s(20), 0.5], [s(30), 1.5]]}]};
  const r = rateHistory(answer, 100);
  assert.deepEqual(r.xs, [10, 30]);
  assert.deepEqual(r.ys.map((v) => Math.round(v * 1000) / 1000), [10, 10]);
});

test('loadAgentHistory asks for the three stored series over the last ten minutes', async () => {
  const asked = [];
  const api = {
    query: async (params) => {
      asked.push(params);
      if (params.match === HISTORY_QUERIES.rssBytes) return {to: s(1000), series: [{points: [[s(990), 7]]}]};
      return {to: s(1000), series: []};
    },
  };
  // This browser's clock is 5 s ahead of the agent's: the history moves with it.
  const h = await loadAgentHistory(api, {now: 1005});
  assert.deepEqual(asked.map((p) => p.match).sort(), Object.values(HISTORY_QUERIES).sort());
  assert.ok(asked.every((p) => p.from === '-10m'));
  assert.deepEqual(h.rssBytes, {xs: [995], ys: [7]});
  assert.deepEqual(h.cpuPercent, {xs: [], ys: []});
});
