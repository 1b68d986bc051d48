// The live connection to the websocket output (GET /api/stream, protocol 1):
// subscriptions by selector, snapshots, sample batches and events; reconnects
// with backoff and re-subscribes. Listeners get CustomEvents:
//   state     {state: 'connecting'|'live'|'reconnecting'|'stopped', attempt, retryAt, reason}
//   snapshot  {samples}          samples {samples, coalesced}
//   event     {event}            problem {message}
import {backoffDelayMs} from './backoff.js';

const PROTOCOL = 1;

export class LiveStream extends EventTarget {
  constructor({path = '/api/stream', token = ''} = {}) {
    super();
    this.path = path;
    this.token = token;
    this.wanted = new Set();  // selectors the dashboard wants
    this.sent = new Set();  // selectors sent on the current connection
    this.ws = null;
    this.attempt = 0;
    this.retryTimer = 0;
    this.stopped = true;
    this.state = 'stopped';
    this.onOnline = () => this.retryNow();
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('online', this.onOnline);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    clearTimeout(this.retryTimer);
    if (this.ws) this.ws.close(1000, 'dashboard closed');
    this.ws = null;
    this.setState('stopped');
  }

  // Reconnects at once instead of waiting for the backoff.
  retryNow() {
    if (this.stopped || this.state !== 'reconnecting') return;
    clearTimeout(this.retryTimer);
    this.connect();
  }

  subscribe(selectors) {
    for (const s of selectors) this.wanted.add(s);
    this.sync();
  }

  unsubscribe(selectors) {
    for (const s of selectors) this.wanted.delete(s);
    this.sync();
  }

  url() {
    const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    const query = this.token ? `?token=${encodeURIComponent(this.token)}` : '';
    return `${scheme}//${window.location.host}${this.path}${query}`;
  }

  connect() {
    this.setState('connecting');
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch (e) {
      this.scheduleRetry(String(e));
      return;
    }
    this.ws = ws;
    this.sent = new Set();
    ws.onmessage = (e) => this.receive(e.data);
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!this.stopped) this.scheduleRetry(e.reason || (e.code === 1006 ? 'connection lost' : `closed (${e.code})`));
    };
    // onerror is always followed by onclose, which retries.
    ws.onerror = () => {};
  }

  scheduleRetry(reason) {
    const delay = backoffDelayMs(this.attempt);
    this.attempt++;
    this.setState('reconnecting', {reason, retryAt: Date.now() + delay});
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      this.emit('problem', {message: 'the stream sent a frame that is not JSON'});
      return;
    }
    switch (message.type) {
      case 'hello':
        if (message.protocol !== PROTOCOL) {
          this.emit('problem', {message: `the agent speaks stream protocol ${message.protocol}; this dashboard ${PROTOCOL}`});
          this.ws?.close(1000, 'protocol mismatch');
          return;
        }
        this.attempt = 0;
        this.setState('live');
        this.sync();
        break;
      case 'snapshot':
        this.emit('snapshot', {samples: message.samples ?? []});
        break;
      case 'samples':
        this.emit('samples', {samples: message.samples ?? [], coalesced: Boolean(message.coalesced)});
        break;
      case 'event':
        this.emit('event', {event: message});
        break;
      case 'error':
        this.emit('problem', {message: message.error ?? 'stream error'});
        break;
      case 'subscribed':
        // The server's word on what this connection is subscribed to.
        if (Array.isArray(message.subscriptions)) this.sent = new Set(message.subscriptions);
        break;
      default:
        break;  // newer message types: nothing to do
    }
  }

  // Brings the connection's subscriptions in line with `wanted`.
  sync() {
    if (this.state !== 'live' || !this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    const add = [...this.wanted].filter((s) => !this.sent.has(s));
    const drop = [...this.sent].filter((s) => !this.wanted.has(s));
    if (drop.length) this.ws.send(JSON.stringify({unsubscribe: drop}));
    if (add.length) this.ws.send(JSON.stringify({subscribe: add}));
    for (const s of drop) this.sent.delete(s);
    for (const s of add) this.sent.add(s);
  }

  setState(state, extra = {}) {
    this.state = state;
    this.emit('state', {state, attempt: this.attempt, ...extra});
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, {detail}));
  }
}
