// The time ranges the charts offer. `live` is fed by the stream; the others
// are fetched from /api/query and refreshed every `refreshSeconds`.
export const RANGES = [
  {id: 'live', label: 'Live 5 min', from: '-5m', seconds: 300, live: true},
  {id: '1h', label: '1 h', from: '-1h', seconds: 3600, refreshSeconds: 15},
  {id: '24h', label: '24 h', from: '-24h', seconds: 86400, refreshSeconds: 60},
  {id: '7d', label: '7 d', from: '-7d', seconds: 7 * 86400, refreshSeconds: 300},
  {id: '30d', label: '30 d', from: '-30d', seconds: 30 * 86400, refreshSeconds: 900},
];

export function rangeById(id) {
  return RANGES.find((r) => r.id === id) ?? RANGES[0];
}
