// Reconnect delays.
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {backoffDelayMs} from '../src/backoff.js';

test('delays double from the base up to the cap, with half of each random', () => {
  const low = {random: () => 0};
  const high = {random: () => 1};
  assert.equal(backoffDelayMs(0, low), 250);
  assert.equal(backoffDelayMs(0, high), 500);
  assert.equal(backoffDelayMs(3, high), 4000);
  assert.equal(backoffDelayMs(20, high), 30000);
  assert.equal(backoffDelayMs(20, low), 15000);
});
