// The dashboard in Debian's chromium, driven by playwright-core: the real
// agent with synthetic input, sqlite history, the websocket and dashboard
// outputs. The chart must draw live samples, switch to 24 h through
// /api/query, show the agent page, work on a phone-sized screen, show a lost
// connection and reconnect when the agent comes back, and log no console
// errors. Screenshots go to VITALS_ARTIFACT_DIR.
//
// Environment (meson sets it): VITALS_BIN, VITALS_NPM_DIR (node_modules with
// playwright-core), VITALS_PLUGIN_DIR, VITALS_ARTIFACT_DIR.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {createRequire} from 'node:module';
import os from 'node:os';
import path from 'node:path';

import {startAgent} from './agent.mjs';

const CHROMIUM = '/usr/bin/chromium';
const SKIP = 77;  // meson's "skipped"

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run this through meson test)`);
  return value;
}

function step(text) {
  console.log(`- ${text}`);
}

function findFile(dir, name) {
  for (const entry of fs.readdirSync(dir, {withFileTypes: true})) {
    const full = path.join(dir, entry.name);
    if (entry.isFile() && entry.name === name) return full;
    if (entry.isDirectory()) {
      const found = findFile(full, name);
      if (found) return found;
    }
  }
  return null;
}

async function waitForSeries(url, deadlineMs) {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    const reply = await fetch(`${url}/api/series?match=synthetic`).catch(() => null);
    if (reply?.ok && (await reply.json()).series.length > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('no synthetic series in /api/series');
}

// Waits until storage holds at least `count` records of the agent's RSS.
async function waitForStoredSelfMetrics(url, count, deadlineMs) {
  const until = Date.now() + deadlineMs;
  let have = 0;
  while (Date.now() < until) {
    const reply = await fetch(`${url}/api/query?match=vitals_process_resident_memory_bytes&from=-10m&points=1000`)
      .catch(() => null);
    if (reply?.ok) have = (await reply.json()).series?.[0]?.points?.length ?? 0;
    if (have >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`only ${have} stored records of vitals_process_resident_memory_bytes`);
}

async function main() {
  if (!fs.existsSync(CHROMIUM)) {
    const message = `${CHROMIUM} not found (Debian package chromium; scripts/install-deps installs it)`;
    if (process.env.VITALS_REQUIRE_BROWSER) throw new Error(message);
    console.log(`SKIP: ${message}`);
    process.exit(SKIP);
  }
  const {chromium} = createRequire(path.join(env('VITALS_NPM_DIR'), 'package.json'))('playwright-core');
  const artifacts = env('VITALS_ARTIFACT_DIR');
  fs.mkdirSync(artifacts, {recursive: true});
  const haveStream = findFile(env('VITALS_PLUGIN_DIR'), 'vitals-websocket.so') !== null;
  if (!haveStream) console.log('NOTE: the websocket output is not built: live checks skipped');

  const configs = {
    '10-pipeline.toml': `
[input.synthetic]
interval = "250ms"
signals = 3
rate = 4.0
shape = "random_walk"
amplitude = 0.5

[input.agent]
interval = "1s"
include = ["vitals_*"]

[storage.local]
plugin = "sqlite"
inputs = ["*"]
flush_interval = "200ms"

[output.dashboard]
plugin = "dashboard"
inputs = []
`,
  };
  if (haveStream) configs['20-live.toml'] = '[output.live]\nplugin = "websocket"\ninputs = ["*"]\n';

  let agent = await startAgent({binary: env('VITALS_BIN'), configs});
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'vitals-chromium-'));
  process.on('exit', () => fs.rmSync(profile, {recursive: true, force: true}));
  let context;
  try {
    step(`agent at ${agent.url}`);
    await waitForSeries(agent.url, 15000);

    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
      viewport: {width: 1280, height: 860},
    });
    const problems = [];
    let outage = false;  // while the test has stopped the agent, failures are expected
    const problem = (text) => {
      if (!outage) problems.push(text);
    };
    const watch = (page) => {
      page.on('console', (msg) => {
        if (msg.type() === 'error') problem(`console: ${msg.text()}`);
      });
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      page.on('requestfailed', (req) => {
        const failure = req.failure()?.errorText ?? '';
        // Leaving a page aborts its pending requests; that is no fault.
        if (!failure.includes('ERR_ABORTED')) problem(`request failed: ${req.url()} ${failure}`);
      });
    };
    const page = context.pages()[0] ?? (await context.newPage());
    watch(page);

    step('open the dashboard');
    await page.goto(`${agent.url}/`);
    await page.waitForFunction(() => window.vitals?.charts().some((c) => c.points > 0), null, {timeout: 15000});
    const first = await page.evaluate(() => window.vitals.charts()[0]);
    assert.equal(first.name, 'synthetic');
    assert.equal(first.range, 'live');
    step(`chart "${first.name}" drew ${first.points} points`);

    if (haveStream) {
      step('live samples arrive over /api/stream');
      await page.waitForFunction(() => window.vitals.stream() === 'live', null, {timeout: 10000});
      assert.equal(await page.getAttribute('#conn', 'data-state'), 'live');
      // Nothing is fetched meanwhile: the new points come from the stream.
      let queries = 0;
      const countQueries = (req) => {
        if (req.url().includes('/api/query')) queries++;
      };
      page.on('request', countQueries);
      const before = await page.evaluate(() => window.vitals.charts()[0].points);
      await page.waitForFunction((n) => window.vitals.charts()[0].points >= n + 12, before, {timeout: 10000});
      const after = await page.evaluate(() => window.vitals.charts()[0].points);
      page.off('request', countQueries);
      assert.equal(queries, 0, 'live points came without /api/query');
      step(`points grew from ${before} to ${after} with no /api/query in between`);
      await page.screenshot({path: path.join(artifacts, 'dashboard-live.png')});
    }

    step('switch to 24 h');
    const [reply] = await Promise.all([
      page.waitForResponse((r) => r.url().includes('/api/query') && r.url().includes('from=-24h')),
      page.click('button.range[data-range="24h"]'),
    ]);
    assert.equal(reply.status(), 200);
    const asked = Number(new URL(reply.url()).searchParams.get('points'));
    await page.waitForFunction(() => window.vitals.charts()[0].range === '24h' && window.vitals.charts()[0].points > 0,
      null, {timeout: 10000});
    const day = await page.evaluate(() => window.vitals.charts()[0]);
    assert.equal(asked, day.width, 'points asked for = the chart width in pixels');
    assert.ok(Math.abs(day.xMax - day.xMin - 86400) < 1, `the chart spans ${day.xMax - day.xMin} s`);
    assert.equal(await page.getAttribute('button.range[data-range="24h"]', 'aria-pressed'), 'true');
    step(`24 h: asked for ${asked} points (chart ${day.width} px wide), drew ${day.points}`);
    const desktopShot = path.join(artifacts, 'dashboard-24h.png');
    await page.screenshot({path: desktopShot, fullPage: true});

    step('the agent page shows self-metrics, its charts starting from the stored ones');
    await waitForStoredSelfMetrics(agent.url, 8, 20000);
    const opened = Date.now();
    await page.click('nav.tabs a[data-page="agent"]');
    // Polling alone gives one point at once and the next after 2 s (rates
    // need two); the agent metrics stored every second give many at once.
    await page.waitForFunction(() => {
      const p = window.vitals.agent()?.chartPoints;
      return p && p.rssBytes >= 7 && p.cpuPercent >= 6 && p.ingestRate >= 6;
    }, null, {timeout: 1500});
    step(`charts backfilled ${Date.now() - opened} ms after opening the page: ` +
      JSON.stringify(await page.evaluate(() => window.vitals.agent().chartPoints)));
    await page.waitForFunction(() => {
      const a = window.vitals.agent();
      return a && a.ingestRate !== null && a.ingestRate > 0 && a.rssBytes > 0 && a.cpuPercent !== null;
    }, null, {timeout: 15000});
    const agentView = await page.evaluate(() => window.vitals.agent());
    step(`ingest ${agentView.ingestRate.toFixed(1)}/s, RSS ${agentView.rssBytes} B, ${agentView.components} components`);
    const agentShot = path.join(artifacts, 'dashboard-agent.png');
    await page.screenshot({path: agentShot, fullPage: true});

    step('a phone-sized screen');
    const phone = await context.newPage();
    watch(phone);
    await phone.setViewportSize({width: 390, height: 844});
    await phone.goto(`${agent.url}/`);
    await phone.click('button.range[data-range="live"]');
    await phone.waitForFunction(() => window.vitals.charts().some((c) => c.range === 'live' && c.points > 0), null,
      {timeout: 15000});
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than the phone screen`);
    const phoneChart = await phone.evaluate(() => window.vitals.charts()[0]);
    assert.ok(phoneChart.width < 390, `chart is ${phoneChart.width} px wide on a 390 px screen`);
    const phoneShot = path.join(artifacts, 'dashboard-phone.png');
    await phone.screenshot({path: phoneShot, fullPage: true});
    await phone.close();

    if (haveStream) {
      step('the agent restarts: the dashboard shows it and reconnects');
      await page.click('nav.tabs a[data-page="charts"]');
      await page.click('button.range[data-range="live"]');
      await page.waitForFunction(() => window.vitals.stream() === 'live', null, {timeout: 10000});
      outage = true;
      const listen = agent.listen;
      await agent.stop({keepDir: true});
      await page.waitForFunction(() => document.querySelector('#conn').dataset.state === 'reconnecting', null,
        {timeout: 10000});
      const label = await page.textContent('#conn');
      assert.match(label, /Reconnecting/);
      step(`while it is down the header says "${label.trim()}"`);
      await page.screenshot({path: path.join(artifacts, 'dashboard-reconnecting.png')});
      agent = await startAgent({binary: env('VITALS_BIN'), configs, listen, dir: agent.dir});
      await page.waitForFunction(() => window.vitals.stream() === 'live', null, {timeout: 30000});
      outage = false;
      const before = await page.evaluate(() => window.vitals.charts()[0].points);
      await page.waitForFunction((n) => window.vitals.charts()[0].points > n + 4, before, {timeout: 10000});
      step('live again, and new points arrive');
    }

    const unexpected = haveStream ? problems : problems.filter((p) => !p.includes('/api/stream'));
    assert.deepEqual(unexpected, [], 'no console errors');
    const shots = [desktopShot, agentShot, phoneShot];
    if (haveStream) shots.push(path.join(artifacts, 'dashboard-live.png'), path.join(artifacts, 'dashboard-reconnecting.png'));
    console.log(`screenshots: ${shots.join(' ')}`);
    console.log('1 passed, 0 failed');
  } catch (e) {
    console.error(`agent log:\n${agent.log().split('\n').slice(-40).join('\n')}`);
    throw e;
  } finally {
    await context?.close();
    await agent.stop();
    fs.rmSync(profile, {recursive: true, force: true});
  }
}

// meson ends a test that overruns its timeout with SIGTERM: leave through
// 'exit' so the agent is stopped too.
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(1));

main().catch((e) => {
  console.error(e.stack || String(e));
  console.log('0 passed, 1 failed');
  process.exit(1);
});
