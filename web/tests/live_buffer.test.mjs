// The per-series buffer behind the live charts.
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {SeriesBuffer} from '../src/live_buffer.js';

test('points stay in time order; a repeated time replaces its value', () => {
  const b = new SeriesBuffer();
  b.push(3, 30);
  b.push(1, 10);
  b.push(2, 20);
  b.push(2, 21);
  assert.deepEqual(b.xs, [1, 2, 3]);
  assert.deepEqual(b.ys, [10, 21, 30]);
});

test('history replaces what it covers and keeps newer live points', () => {
  const b = new SeriesBuffer();
  b.push(5, 50);
  b.push(9, 90);
  b.setHistory([1, 2, 6], [1, 2, 6]);
  assert.deepEqual(b.xs, [1, 2, 6, 9]);
  assert.deepEqual(b.ys, [1, 2, 6, 90]);
});

test('trimming keeps one point before the window so the line enters from the edge', () => {
  const b = new SeriesBuffer();
  for (let x = 0; x < 10; x++) b.push(x, x);
  b.trimBefore(5.5);
  assert.deepEqual(b.xs, [5, 6, 7, 8, 9]);
  b.trimBefore(100);
  assert.deepEqual(b.xs, [9]);
});

test('a fast series is thinned in its older half, the newest points stay exact', () => {
  const b = new SeriesBuffer({maxPoints: 100});
  for (let x = 0; x < 1000; x++) b.push(x, x);
  assert.ok(b.length <= 100);
  assert.equal(b.xs[b.length - 1], 999);
  assert.equal(b.xs[b.length - 2], 998);
  for (let i = 1; i < b.length; i++) assert.ok(b.xs[i] > b.xs[i - 1]);
});
