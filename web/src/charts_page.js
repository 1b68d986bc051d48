// The charts page: one chart per metric name for the selected series. The
// live range is history from /api/query plus samples from the stream; other
// ranges are fetched from /api/query with as many points as the chart is
// wide, and refreshed now and then.
import {alignTables, TimeChart} from './chart.js';
import {h, replaceChildren} from './dom.js';
import {formatClock} from './format.js';
import {SeriesBuffer} from './live_buffer.js';
import {SeriesPicker} from './picker.js';
import {RANGES, rangeById} from './ranges.js';
import {groupByName, legendText} from './series.js';

const RANGE_KEY = 'vitals.range';
const MAX_EVENTS = 20;

export class ChartsPage {
  constructor({api, stream}) {
    this.api = api;
    this.stream = stream;
    this.range = rangeById(localStorage.getItem(RANGE_KEY) ?? 'live');
    this.groups = new Map();  // metric name -> {texts, card, chart, empty}
    this.buffers = new Map();  // series text -> SeriesBuffer
    this.subscribed = new Set();
    this.visible = false;
    this.clockOffset = 0;  // agent clock minus this browser's, seconds
    this.rangeEnd = null;  // `to` of the last query (seconds), for fixed ranges
    this.loads = new AbortController();
    this.drawPending = false;
    this.picker = new SeriesPicker(api);
    this.picker.addEventListener('change', () => this.selectionChanged());
    this.build();

    stream.addEventListener('snapshot', (e) => this.addSamples(e.detail.samples));
    stream.addEventListener('samples', (e) => this.addSamples(e.detail.samples));
    stream.addEventListener('event', (e) => this.addEvent(e.detail.event));
    stream.addEventListener('state', (e) => this.streamState(e.detail.state));
  }

  build() {
    this.rangeButtons = RANGES.map((r) =>
      h('button', {type: 'button', class: 'range', dataset: {range: r.id}, onclick: () => this.setRange(r.id)}, r.label));
    this.pickerToggle = h('button', {type: 'button', class: 'picker-toggle', 'aria-expanded': 'false',
      onclick: () => this.togglePicker()}, 'Series');
    this.status = h('span', {class: 'load-status', role: 'status'});
    this.grid = h('div', {class: 'charts'});
    this.emptyHint = h('p', {class: 'hint'}, 'Pick series to chart them.');
    this.eventList = h('ol', {class: 'events'});
    this.element = h(
      'section',
      {class: 'page charts-page', hidden: true},
      h('div', {class: 'toolbar'}, this.pickerToggle,
        h('div', {class: 'ranges', role: 'group', 'aria-label': 'Time range'}, this.rangeButtons), this.status),
      h('div', {class: 'layout'}, this.picker.element,
        h('div', {class: 'content'}, this.emptyHint, this.grid,
          h('section', {class: 'card events-card'}, h('h2', {}, 'Events'), this.eventList))),
    );
    replaceChildren(this.eventList, h('li', {class: 'muted'}, 'No events yet.'));
    this.markRange();
  }

  show() {
    this.visible = true;
    this.element.hidden = false;
    this.loads = new AbortController();
    this.picker.refresh().catch((e) => this.showStatus(`series: ${e.message}`, true)).finally(() => this.selectionChanged());
    this.pollSeries();
    this.tickTimer = setInterval(() => this.tick(), 1000);
  }

  hide() {
    this.visible = false;
    this.element.hidden = true;
    clearTimeout(this.seriesTimer);
    clearInterval(this.tickTimer);
    this.loads.abort();
    this.updateSubscriptions([]);
    // Charts are rebuilt (and their data fetched again) when the page returns.
    for (const group of this.groups.values()) {
      group.chart.destroy();
      group.card.remove();
    }
    this.groups.clear();
    this.buffers.clear();
  }

  // New series show up in the picker: soon while there are none, then twice a minute.
  pollSeries() {
    const delay = this.picker.all.length ? 30000 : 3000;
    this.seriesTimer = setTimeout(() => {
      this.picker.refresh().catch(() => {}).finally(() => this.visible && this.pollSeries());
    }, delay);
  }

  togglePicker() {
    const open = !this.element.classList.contains('picker-open');
    this.element.classList.toggle('picker-open', open);
    this.pickerToggle.setAttribute('aria-expanded', String(open));
  }

  setRange(id) {
    this.range = rangeById(id);
    localStorage.setItem(RANGE_KEY, this.range.id);
    this.markRange();
    for (const buffer of this.buffers.values()) buffer.clear();
    this.rangeEnd = null;
    this.updateSubscriptions(this.range.live ? this.picker.selected() : []);
    this.nextRefresh = 0;
    this.draw();  // empty at once: nothing of the previous range stays on screen
    this.reload();
  }

  markRange() {
    for (const b of this.rangeButtons) b.setAttribute('aria-pressed', String(b.dataset.range === this.range.id));
    this.element.dataset.range = this.range.id;
  }

  // Rebuilds the charts for the picker's selection, keeping what is unchanged.
  selectionChanged() {
    if (!this.visible) return;
    const selected = this.picker.selected();
    this.pickerToggle.textContent = `Series (${selected.length})`;
    const wanted = groupByName(selected);
    for (const [name, group] of this.groups) {
      const texts = wanted.get(name);
      if (!texts || texts.join('\n') !== group.texts.join('\n')) {
        group.chart.destroy();
        group.card.remove();
        this.groups.delete(name);
      }
    }
    const added = [];
    for (const [name, texts] of wanted) {
      if (this.groups.has(name)) continue;
      this.groups.set(name, this.makeGroup(name, texts));
      added.push(name);
    }
    // Keep the cards in name order.
    for (const group of this.groups.values()) this.grid.append(group.card);
    for (const text of [...this.buffers.keys()]) if (!selected.includes(text)) this.buffers.delete(text);
    for (const text of selected) if (!this.buffers.has(text)) this.buffers.set(text, new SeriesBuffer());
    this.emptyHint.hidden = selected.length > 0;
    this.updateSubscriptions(this.range.live ? selected : []);
    for (const name of added) this.load(this.groups.get(name));
    this.scheduleDraw();
  }

  makeGroup(name, texts) {
    const empty = h('div', {class: 'chart-empty'}, 'No data in this range yet.');
    const plotArea = h('div', {class: 'chart-plot'});
    const card = h('section', {class: 'card chart-card', dataset: {metric: name}}, h('h2', {}, name), plotArea, empty);
    this.grid.append(card);
    const group = {name, texts, card, empty};
    group.chart = new TimeChart(plotArea, {
      labels: texts.map(legendText),
      height: window.matchMedia('(max-width: 600px)').matches ? 180 : 220,
      onWidthChange: () => {
        // Fixed ranges ask for as many points as the chart is wide.
        if (this.range.live) return;
        clearTimeout(group.resizeTimer);
        group.resizeTimer = setTimeout(() => this.load(group), 400);
      },
    });
    return group;
  }

  updateSubscriptions(selectors) {
    const wanted = new Set(selectors);
    const drop = [...this.subscribed].filter((s) => !wanted.has(s));
    const add = [...wanted].filter((s) => !this.subscribed.has(s));
    if (drop.length) this.stream.unsubscribe(drop);
    if (add.length) this.stream.subscribe(add);
    this.subscribed = wanted;
  }

  reload() {
    this.loads.abort();
    this.loads = new AbortController();
    for (const group of this.groups.values()) this.load(group);
  }

  // Fetches the range of every series of a group, `points` = chart width.
  async load(group) {
    const range = this.range;
    const signal = this.loads.signal;
    const points = group.chart.width;
    this.showStatus('Loading…');
    try {
      const replies = await Promise.all(
        group.texts.map((text) => this.api.query({match: text, from: range.from, points}, signal)));
      if (signal.aborted || range !== this.range) return;
      replies.forEach((reply, i) => {
        const text = group.texts[i];
        const found = (reply.series ?? []).find((s) => s.series === text);
        const xs = [];
        const ys = [];
        for (const [ts, value] of found?.points ?? []) {
          xs.push(ts / 1e9);
          ys.push(value);
        }
        this.buffers.get(text)?.setHistory(xs, ys);
        this.rangeEnd = reply.to / 1e9;
        this.clockOffset = reply.to / 1e9 - Date.now() / 1000;
      });
      group.card.dataset.points = String(points);
      this.showStatus('');
      this.scheduleDraw();
    } catch (e) {
      if (e.name === 'AbortError') return;
      this.showStatus(`${group.name}: ${e.message}`, true);
    }
  }

  addSamples(samples) {
    if (!this.range.live || !this.visible) return;
    let added = false;
    for (const s of samples) {
      const buffer = this.buffers.get(s.series);
      if (!buffer) continue;
      const x = s.ts / 1e9;
      buffer.push(x, typeof s.value === 'number' ? s.value : null);
      // A sample can't be from the future of the agent's clock.
      this.clockOffset = Math.max(this.clockOffset, x - Date.now() / 1000);
      added = true;
    }
    if (added) this.scheduleDraw();
  }

  addEvent(event) {
    if (this.eventList.querySelector('.muted')) this.eventList.textContent = '';
    const item = h('li', {class: `event sev-${event.severity}`},
      h('time', {}, formatClock(event.ts / 1e9)), h('span', {class: 'sev'}, event.severity),
      h('span', {class: 'source'}, event.source), h('span', {class: 'message'}, event.message));
    this.eventList.prepend(item);
    while (this.eventList.children.length > MAX_EVENTS) this.eventList.lastChild.remove();
  }

  streamState(state) {
    if (state === 'reconnecting') this.lostStream = true;
    if (state !== 'live' || !this.lostStream) return;
    // Back after a gap: fill the live window from history again.
    this.lostStream = false;
    if (this.range.live && this.visible) this.reload();
  }

  // Once a second: the live window scrolls; fixed ranges refresh when due.
  tick() {
    if (this.range.live) {
      this.scheduleDraw();
      return;
    }
    const now = Date.now();
    if (!this.nextRefresh) this.nextRefresh = now + this.range.refreshSeconds * 1000;
    if (now >= this.nextRefresh) {
      this.nextRefresh = now + this.range.refreshSeconds * 1000;
      for (const group of this.groups.values()) this.load(group);
    }
  }

  scheduleDraw() {
    if (this.drawPending || !this.visible) return;
    this.drawPending = true;
    requestAnimationFrame(() => {
      this.drawPending = false;
      this.draw();
    });
  }

  draw() {
    const end = this.range.live ? Date.now() / 1000 + this.clockOffset : (this.rangeEnd ?? Date.now() / 1000);
    const start = end - this.range.seconds;
    for (const group of this.groups.values()) {
      const tables = group.texts.map((text) => {
        const buffer = this.buffers.get(text);
        if (this.range.live) buffer.trimBefore(start);
        return [buffer.xs, buffer.ys];
      });
      group.chart.setData(alignTables(tables), start, end);
      const points = group.chart.points();
      group.empty.hidden = points > 0;
      group.card.dataset.drawn = String(points);
    }
  }

  showStatus(text, error = false) {
    this.status.textContent = text;
    this.status.classList.toggle('error', error);
  }

  // For tests and debugging (window.vitals.charts()).
  describe() {
    return [...this.groups.values()].map((g) => ({
      name: g.name,
      series: g.texts.length,
      range: this.range.id,
      width: g.chart.width,
      points: g.chart.points(),
      xMin: g.chart.xMin,
      xMax: g.chart.xMax,
    }));
  }
}
