// The agent page: the agent's own metrics from /api/performance/metrics,
// polled every two seconds while the page is open: ingest rate, queue
// depths, drops, errors, RSS and CPU, with charts of the last ten minutes
// (started from storage when it keeps the agent's own metrics) and a row
// per pipeline component.
import {alignTables, TimeChart} from './chart.js';
import {h, replaceChildren} from './dom.js';
import {formatBytes, formatPercent, formatRate, formatValue} from './format.js';
import {SeriesBuffer} from './live_buffer.js';
import {loadAgentHistory} from './agent_history.js';
import {summarize} from './agent_metrics.js';

const POLL_MS = 2000;
const WINDOW_SECONDS = 600;

const TILES = [
  {key: 'ingestRate', label: 'Ingest rate', format: (v) => (v === null ? '–' : formatRate(v))},
  {key: 'cpuPercent', label: 'CPU', format: formatPercent},
  {key: 'rssBytes', label: 'Memory (RSS)', format: formatBytes},
  {key: 'queueDepth', label: 'Queued samples', format: formatValue, warn: (v) => v > 0},
  {key: 'drops', label: 'Dropped samples', format: formatValue, warn: (v) => v > 0},
  {key: 'errors', label: 'Errors', format: formatValue, warn: (v) => v > 0},
  {key: 'series', label: 'Series', format: formatValue},
  {key: 'openFds', label: 'Open files', format: formatValue},
];

const CHARTS = [
  {key: 'ingestRate', title: 'Ingest rate (samples/s)', format: formatValue},
  {key: 'cpuPercent', title: 'CPU (%)', format: formatValue},
  {key: 'rssBytes', title: 'Memory (RSS)', format: formatBytes},
];

export class AgentPage {
  constructor({api}) {
    this.api = api;
    this.previous = null;
    this.latest = null;
    this.visible = false;
    this.buffers = new Map(CHARTS.map((c) => [c.key, new SeriesBuffer()]));
    this.charts = new Map();
    this.tileValues = new Map();
    const tiles = TILES.map((t) => {
      const value = h('span', {class: 'tile-value'}, '–');
      this.tileValues.set(t.key, value);
      return h('div', {class: 'tile', dataset: {metric: t.key}}, h('span', {class: 'tile-label'}, t.label), value);
    });
    this.status = h('span', {class: 'load-status', role: 'status'});
    this.chartCards = CHARTS.map((c) =>
      h('section', {class: 'card chart-card', dataset: {metric: c.key}}, h('h2', {}, c.title), h('div', {class: 'chart-plot'})));
    this.tableBody = h('tbody');
    this.element = h(
      'section',
      {class: 'page agent-page', hidden: true},
      h('div', {class: 'toolbar'}, h('h1', {}, 'Agent'), this.status),
      h('div', {class: 'tiles'}, tiles),
      h('div', {class: 'charts agent-charts'}, this.chartCards),
      h('section', {class: 'card'}, h('h2', {}, 'Components'),
        h('div', {class: 'table-scroll'},
          h('table', {class: 'components'},
            h('thead', {}, h('tr', {}, ['Component', 'Kind', 'Plugin', 'In/s', 'Out/s', 'Queued', 'Dropped', 'Errors']
              .map((c, i) => h('th', {scope: 'col', class: i >= 3 ? 'num' : undefined}, c)))),
            this.tableBody))),
    );
  }

  show() {
    this.visible = true;
    this.element.hidden = false;
    CHARTS.forEach((c, i) => {
      if (this.charts.has(c.key)) return;
      const area = this.chartCards[i].querySelector('.chart-plot');
      this.charts.set(c.key, new TimeChart(area, {labels: [c.title], format: c.format, height: 160}));
    });
    if (!this.backfilled) this.backfill();
    this.poll();
    this.timer = setInterval(() => this.poll(), POLL_MS);
  }

  // Once per page load: the charts start with the stored last ten minutes.
  // Without storage (or before the agent input's first record) they start
  // empty, as before; that is not an error worth showing.
  async backfill() {
    this.backfilled = true;
    try {
      const history = await loadAgentHistory(this.api, {from: `-${WINDOW_SECONDS}s`});
      for (const c of CHARTS) {
        const {xs, ys} = history[c.key];
        if (xs.length) this.buffers.get(c.key).setHistory(xs, ys);
      }
      if (this.visible) this.drawCharts(Date.now() / 1000);
    } catch (e) {
      if (e.name !== 'AbortError') console.info(`agent page: no stored history (${e.message})`);
    }
  }

  hide() {
    this.visible = false;
    this.element.hidden = true;
    clearInterval(this.timer);
    this.controller?.abort();
  }

  async poll() {
    this.controller?.abort();
    this.controller = new AbortController();
    try {
      const body = await this.api.performance(this.controller.signal);
      const snapshot = {at: Date.now() / 1000, metrics: body.metrics ?? [], series: body.series};
      this.latest = summarize(this.previous, snapshot);
      this.previous = snapshot;
      this.status.textContent = '';
      this.status.classList.remove('error');
      this.render(snapshot.at);
    } catch (e) {
      if (e.name === 'AbortError') return;
      this.status.textContent = `metrics: ${e.message}`;
      this.status.classList.add('error');
    }
  }

  render(at) {
    const s = this.latest;
    for (const t of TILES) {
      const el = this.tileValues.get(t.key);
      el.textContent = t.format(s[t.key]);
      el.parentElement.classList.toggle('warn', Boolean(t.warn?.(s[t.key])));
    }
    for (const c of CHARTS) {
      if (s[c.key] !== null && s[c.key] !== undefined) this.buffers.get(c.key).push(at, s[c.key]);
    }
    this.drawCharts(at);
    const rate = (v) => (v === null || v === undefined ? '–' : formatValue(v));
    replaceChildren(this.tableBody, s.components.map((r) =>
      h('tr', {},
        h('td', {}, r.id), h('td', {}, r.kind), h('td', {}, r.plugin),
        h('td', {class: 'num'}, r.kind === 'input' ? '' : rate(r.inRate)),
        h('td', {class: 'num'}, r.kind === 'storage' || r.kind === 'output' ? '' : rate(r.outRate)),
        h('td', {class: 'num'}, formatValue(r.queue)),
        h('td', {class: r.drops > 0 ? 'num warn' : 'num'}, formatValue(r.drops)),
        h('td', {class: r.errors > 0 ? 'num warn' : 'num'}, formatValue(r.errors)))));
  }

  drawCharts(at) {
    for (const c of CHARTS) {
      const buffer = this.buffers.get(c.key);
      buffer.trimBefore(at - WINDOW_SECONDS);
      this.charts.get(c.key)?.setData(alignTables([[buffer.xs, buffer.ys]]), at - WINDOW_SECONDS, at);
    }
  }

  describe() {
    if (!this.latest) return null;
    const chartPoints = Object.fromEntries(CHARTS.map((c) => [c.key, this.buffers.get(c.key).length]));
    return {...this.latest, components: this.latest.components.length, chartPoints};
  }
}
