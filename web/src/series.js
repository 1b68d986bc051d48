// Canonical series text, `name{key="value",...}` with `\"`, `\\` and `\n`
// escaped in values: parsing it, labels for legends, grouping for charts.

// Returns {name, labels: {key: value}}; labels in the order written.
export function parseSeries(text) {
  const brace = text.indexOf('{');
  if (brace < 0) return {name: text, labels: {}};
  const name = text.slice(0, brace);
  const labels = {};
  let i = brace + 1;
  while (i < text.length && text[i] !== '}') {
    const eq = text.indexOf('=', i);
    if (eq < 0 || text[eq + 1] !== '"') break;
    const key = text.slice(i, eq);
    let value = '';
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\' && j + 1 < text.length) {
        j++;
        value += text[j] === 'n' ? '\n' : text[j];
      } else {
        value += text[j];
      }
    }
    labels[key] = value;
    i = j + 1;
    if (text[i] === ',') i++;
  }
  return {name, labels};
}

// The labels as a short legend text: `cpu=total, mode=user`; the name alone
// when there are none.
export function legendText(text) {
  const {name, labels} = parseSeries(text);
  const pairs = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  return pairs.length ? pairs.join(', ') : name;
}

// Groups series texts by metric name, names and series in sorted order.
export function groupByName(texts) {
  const groups = new Map();
  for (const text of [...texts].sort()) {
    const {name} = parseSeries(text);
    if (!groups.has(name)) groups.set(name, []);
    groups.get(name).push(text);
  }
  return new Map([...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
