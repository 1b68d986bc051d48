// Number, byte, rate and time formatting for axes, legends and tiles.

const SI = [
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

// 3 significant digits (or `digits`), SI suffix from 1000 up: 0.125, 21.5,
// 1.25k, 3.4M.
export function formatValue(v, digits = 3) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '-∞';
  const abs = Math.abs(v);
  for (const [scale, suffix] of SI) if (abs >= scale) return trim((v / scale).toPrecision(digits)) + suffix;
  if (abs === 0) return '0';
  if (abs < 1e-3) return v.toExponential(digits - 1);
  return trim(v.toPrecision(digits));
}

// Axis labels: as few digits as keep neighbouring ticks apart (a narrow
// range near 103 reads 102.5, 103, 103.5, not 103, 103, 103).
export function formatTicks(values, format, maxDigits = 8) {
  let labels = values.map((v) => format(v));
  for (let digits = 4; digits <= maxDigits && new Set(labels).size < labels.length; digits++)
    labels = values.map((v) => format(v, digits));
  return labels;
}

// 1536 -> "1.5 KiB"
export function formatBytes(bytes, digits = 3) {
  if (bytes === null || bytes === undefined || Number.isNaN(bytes)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return (i === 0 ? String(Math.round(v)) : trim(v.toPrecision(digits))) + ' ' + units[i];
}

export function formatRate(perSecond) {
  return formatValue(perSecond) + '/s';
}

export function formatPercent(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  return (v >= 10 ? v.toFixed(0) : v.toFixed(1)) + ' %';
}

// Local wall-clock time of a seconds timestamp: "14:05:09".
export function formatClock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], {hour12: false});
}

// "1.50" -> "1.5", "2.00" -> "2"; integers and exponents stay as they are.
function trim(text) {
  return text.includes('.') && !text.includes('e') ? text.replace(/\.?0+$/, '') : text;
}
