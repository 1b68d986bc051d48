// The points of one series a chart shows: history from /api/query merged with
// live samples from the stream, kept in time order, trimmed to the visible
// range and bounded in count. Times are seconds (what uPlot takes).

export class SeriesBuffer {
  constructor({maxPoints = 4000} = {}) {
    this.xs = [];
    this.ys = [];
    this.maxPoints = maxPoints;
  }

  get length() {
    return this.xs.length;
  }

  clear() {
    this.xs = [];
    this.ys = [];
  }

  // Replaces everything up to the end of the history with it; live points
  // newer than the history (they arrived while it loaded) are kept.
  setHistory(xs, ys) {
    const last = xs.length ? xs[xs.length - 1] : -Infinity;
    const from = upperBound(this.xs, last);
    this.xs = xs.concat(this.xs.slice(from));
    this.ys = ys.concat(this.ys.slice(from));
    this.bound();
  }

  // Adds one point; a point at the time of an existing one replaces it.
  push(x, y) {
    const n = this.xs.length;
    if (n === 0 || x > this.xs[n - 1]) {
      this.xs.push(x);
      this.ys.push(y);
    } else {
      const i = lowerBound(this.xs, x);
      if (this.xs[i] === x) {
        this.ys[i] = y;
      } else {
        this.xs.splice(i, 0, x);
        this.ys.splice(i, 0, y);
      }
    }
    if (this.xs.length > this.maxPoints) this.bound();
  }

  // Drops points older than xMin, keeping one before it so the line enters
  // the chart from its left edge.
  trimBefore(xMin) {
    const i = lowerBound(this.xs, xMin) - 1;
    if (i > 0) {
      this.xs.splice(0, i);
      this.ys.splice(0, i);
    }
  }

  // Halves the older half of the points until under maxPoints, so a fast
  // series cannot grow without bound; the newest points stay exact.
  bound() {
    while (this.xs.length > this.maxPoints) {
      const half = Math.floor(this.xs.length / 2);
      const xs = [];
      const ys = [];
      for (let i = 0; i < half; i += 2) {
        xs.push(this.xs[i]);
        ys.push(this.ys[i]);
      }
      this.xs = xs.concat(this.xs.slice(half));
      this.ys = ys.concat(this.ys.slice(half));
    }
  }
}

// First index with xs[i] >= x.
function lowerBound(xs, x) {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// First index with xs[i] > x.
function upperBound(xs, x) {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
