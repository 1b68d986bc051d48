// Canonical series text: parsing, legend text, grouping by name.
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {groupByName, legendText, parseSeries} from '../src/series.js';

test('series text parses into name and labels, escapes included', () => {
  assert.deepEqual(parseSeries('load1'), {name: 'load1', labels: {}});
  assert.deepEqual(parseSeries('cpu_usage{cpu="total",mode="user"}'), {
    name: 'cpu_usage',
    labels: {cpu: 'total', mode: 'user'},
  });
  assert.deepEqual(parseSeries('x{a="say \\"hi\\"",b="back\\\\slash",c="line\\nbreak"}').labels, {
    a: 'say "hi"',
    b: 'back\\slash',
    c: 'line\nbreak',
  });
  assert.deepEqual(parseSeries('x{a="{,}"}').labels, {a: '{,}'});
});

test('legends show labels, or the name when there are none', () => {
  assert.equal(legendText('synthetic{signal="3"}'), 'signal=3');
  assert.equal(legendText('load1'), 'load1');
});

test('series group by metric name in sorted order', () => {
  const groups = groupByName(['b{x="2"}', 'a', 'b{x="1"}']);
  assert.deepEqual([...groups.keys()], ['a', 'b']);
  assert.deepEqual(groups.get('b'), ['b{x="1"}', 'b{x="2"}']);
});
