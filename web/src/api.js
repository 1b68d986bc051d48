// The agent's HTTP API as the dashboard uses it: /api/series, /api/query
// (downsampled server-side), /api/performance/metrics.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

export class Api {
  constructor(token = '') {
    this.token = token;
  }

  async getJson(path, params = {}, signal = undefined) {
    const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null));
    const url = query.toString() ? `${path}?${query}` : path;
    const headers = {Accept: 'application/json'};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    const response = await fetch(url, {headers, signal, cache: 'no-store'});
    let body = null;
    try {
      body = await response.json();
    } catch {
      // a non-JSON answer (a proxy's error page): the status says enough
    }
    if (!response.ok) {
      const reason = body?.error ?? response.statusText;
      throw new ApiError(response.status, response.status === 401 ? 'not authorised: open the dashboard with ?token=…' : reason);
    }
    return body;
  }

  // [{series, name, labels}]
  async series(match = '', signal = undefined) {
    return (await this.getJson('/api/series', {match}, signal)).series ?? [];
  }

  // {from, to, tier, method, series: [{series, points: [[ts_ns, value]]}]}
  query({match, from, to = 'now', points, method = 'lttb'}, signal = undefined) {
    return this.getJson('/api/query', {match, from, to, points, method}, signal);
  }

  // {metrics: [{name, labels, value}], series}
  performance(signal = undefined) {
    return this.getJson('/api/performance/metrics', {}, signal);
  }
}
