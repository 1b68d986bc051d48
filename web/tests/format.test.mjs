// Number formatting on axes, legends and tiles.
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {formatBytes, formatPercent, formatTicks, formatValue} from '../src/format.js';

test('values get three significant digits and an SI suffix', () => {
  assert.equal(formatValue(0), '0');
  assert.equal(formatValue(21.5), '21.5');
  assert.equal(formatValue(0.125), '0.125');
  assert.equal(formatValue(1250), '1.25k');
  assert.equal(formatValue(3400000), '3.4M');
  assert.equal(formatValue(-2000), '-2k');
  assert.equal(formatValue(100), '100');
  assert.equal(formatValue(null), '–');
  assert.equal(formatValue(NaN), '–');
  assert.equal(formatValue(0.00001), '1.00e-5');
});

test('bytes use binary units', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(50 * 1024 * 1024), '50 MiB');
  assert.equal(formatBytes(null), '–');
});

test('percentages keep one decimal below ten', () => {
  assert.equal(formatPercent(2.345), '2.3 %');
  assert.equal(formatPercent(42.6), '43 %');
  assert.equal(formatPercent(null), '–');
});

test('axis labels get more digits until neighbouring ticks differ', () => {
  assert.deepEqual(formatTicks([102, 102.5, 103, 103.5], formatValue), ['102', '102.5', '103', '103.5']);
  assert.deepEqual(formatTicks([0, 0.5, 1], formatValue), ['0', '0.5', '1']);
  const mib = 1024 * 1024;
  assert.deepEqual(formatTicks([14.6 * mib, 14.65 * mib, 14.7 * mib], formatBytes), ['14.6 MiB', '14.65 MiB', '14.7 MiB']);
});
