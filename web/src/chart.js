// One time-series chart: a uPlot instance sized to its container, themed from
// the page's CSS variables, with an x range the page sets (the live window or
// the queried range) and the y range fitted to what is visible.
import uPlot from 'uplot';

import {formatClock, formatTicks, formatValue} from './format.js';

const PALETTE = ['#3b82f6', '#f97316', '#10b981', '#e11d48', '#8b5cf6', '#0891b2', '#ca8a04', '#db2777', '#64748b', '#65a30d'];

export function colorFor(index) {
  return PALETTE[index % PALETTE.length];
}

export class TimeChart {
  // labels: one legend label per series; format: y values to text.
  constructor(container, {labels, format = formatValue, height = 220, onWidthChange = () => {}}) {
    this.container = container;
    this.format = format;
    this.xMin = null;
    this.xMax = null;
    this.onWidthChange = onWidthChange;
    const css = getComputedStyle(document.documentElement);
    const axisColor = css.getPropertyValue('--muted').trim() || '#666';
    const gridColor = css.getPropertyValue('--grid').trim() || '#eee';
    const axis = {
      stroke: axisColor,
      grid: {stroke: gridColor, width: 1},
      ticks: {stroke: gridColor, width: 1},
      font: '11px system-ui, sans-serif',
    };
    this.height = height;
    this.plot = new uPlot(
      {
        width: this.measureWidth(),
        height,
        cursor: {drag: {x: false, y: false}, points: {size: 6}},
        scales: {
          // The page decides the x window; without one, fit the data.
          x: {time: true, range: (u, min, max) => (this.xMin !== null ? [this.xMin, this.xMax] : [min, max])},
        },
        axes: [
          {...axis, values: (u, splits, axisIdx, space, incr) => timeLabels(splits, incr)},
          {...axis, size: axisSize, values: (u, splits) => formatTicks(splits, this.format)},
        ],
        series: [
          {value: (u, v) => (v === null ? '–' : formatClock(v))},
          ...labels.map((label, i) => ({
            label,
            stroke: colorFor(i),
            width: 1.5,
            // uPlot's default: dots only where points are far apart.
            points: {size: 5},
            value: (u, v) => (v === null || v === undefined ? '–' : this.format(v)),
          })),
        ],
        legend: {live: true},
        // Away from the cursor, the legend shows each series' latest value.
        hooks: {draw: [(u) => showLatest(u)]},
      },
      [[], ...labels.map(() => [])],
      container,
    );
    this.resizer = new ResizeObserver(() => this.fit());
    this.resizer.observe(container);
  }

  measureWidth() {
    return Math.max(120, Math.floor(this.container.clientWidth));
  }

  // The chart's width in CSS pixels: how many points a query asks for (the
  // whole chart, not the plot area, which shifts with the y labels).
  get width() {
    return this.plot.width;
  }

  fit() {
    const width = this.measureWidth();
    if (width === this.plot.width) return;
    this.plot.setSize({width, height: this.height});
    this.onWidthChange(this.width);
  }

  // data: [xs, ys1, ys2, ...] aligned (uPlot.join); xMin/xMax in seconds.
  setData(data, xMin, xMax) {
    this.xMin = xMin;
    this.xMax = xMax;
    this.plot.setData(data);
  }

  // Points actually held (null gaps and alignment holes not counted).
  points() {
    let n = 0;
    for (let i = 1; i < this.plot.data.length; i++)
      for (const v of this.plot.data[i]) if (v !== null && v !== undefined) n++;
    return n;
  }

  destroy() {
    this.resizer.disconnect();
    this.plot.destroy();
  }
}

// Aligns per-series [xs, ys] tables on one x axis; holes where a series has
// no point at an x are `undefined`, which uPlot draws across.
export function alignTables(tables) {
  const withData = tables.filter(([xs]) => xs.length > 0);
  if (withData.length === 0) return [[], ...tables.map(() => [])];
  if (tables.length === 1) return [tables[0][0].slice(), tables[0][1].slice()];
  return uPlot.join(tables.map(([xs, ys]) => [xs, ys]));
}

function showLatest(u) {
  if (u.cursor.left >= 0) return;
  const idxs = u.data.map((ys) => {
    for (let i = ys.length - 1; i >= 0; i--) if (ys[i] !== null && ys[i] !== undefined) return i;
    return null;
  });
  idxs[0] = u.data[0].length ? u.data[0].length - 1 : null;
  u.setLegend({idxs}, false);
}

// Room for the longest y label (11 px font: about 7 px a character).
function axisSize(u, values) {
  const longest = Math.max(0, ...(values ?? []).map((v) => String(v).length));
  return Math.max(40, Math.ceil(longest * 7 + 16));
}

// Clock times for short spans, dates once the ticks are a day apart.
function timeLabels(splits, incr) {
  return splits.map((s) => {
    const d = new Date(s * 1000);
    if (incr >= 86400) return d.toLocaleDateString([], {month: 'short', day: 'numeric'});
    if (incr >= 3600) return d.toLocaleString([], {weekday: 'short', hour: '2-digit', minute: '2-digit', hour12: false});
    if (incr >= 60) return d.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit', hour12: false});
    return d.toLocaleTimeString([], {hour12: false});
  });
}
