// bench/fanout's reference: a WebSocket broadcast server written the way the
// npm `ws` package is commonly used, fed by the same POSTs as the agent.
//
//   POST /api/telemetry   the explicit JSON form the agent's http_telemetry
//                         input takes ([{"name","labels","ts","value"}, ...]);
//                         answered 204 once broadcast
//   GET  /api/stream      WebSocket: {"type":"hello",...} on connect, and
//                         {"type":"subscribed",...} in answer to a subscribe
//
// Each POST becomes one message of the shape the agent's websocket output
// sends ({"type":"samples","samples":[{"series","ts","value"}],"coalesced":false}),
// JSON.stringify'd once and then client.send() to every open client, as in
// the ws README's broadcast example. There is no per-client filtering: every
// client of the benchmark subscribes to all the series anyway.
//
// usage: node server.js    (prints "listening on 127.0.0.1:PORT"; SIGTERM stops it)
'use strict';

const http = require('http');
const { WebSocketServer, WebSocket } = require('ws');

// The agent's canonical series text: name{key="value",...}, keys sorted,
// `\`, `"` and newlines escaped in values.
function seriesText(name, labels) {
  const keys = labels ? Object.keys(labels).sort() : [];
  if (keys.length === 0) return name;
  const parts = keys.map((k) => `${k}="${String(labels[k]).replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : '\\' + c))}"`);
  return `${name}{${parts.join(',')}}`;
}

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url.split('?')[0] !== '/api/telemetry') {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    let items;
    try {
      items = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (e) {
      res.writeHead(400, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: String(e) }));
      return;
    }
    if (!Array.isArray(items)) items = [items];
    const samples = items.map((s) => ({ series: seriesText(s.name, s.labels), ts: s.ts, value: s.value }));
    const text = JSON.stringify({ type: 'samples', samples, coalesced: false });
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(text);
    }
    res.writeHead(204).end();
  });
});
server.maxConnections = 4096;

const wss = new WebSocketServer({ server, path: '/api/stream', maxPayload: 64 * 1024 });
wss.on('connection', (ws) => {
  const subscriptions = [];
  ws.send(JSON.stringify({ type: 'hello', protocol: 1, frame_interval_ms: 0 }));
  ws.on('message', (data) => {
    let request;
    try {
      request = JSON.parse(data.toString());
    } catch (e) {
      ws.send(JSON.stringify({ type: 'error', error: String(e) }));
      return;
    }
    const add = [].concat(request.subscribe || []);
    for (const s of add) if (!subscriptions.includes(s)) subscriptions.push(s);
    ws.send(JSON.stringify({ type: 'subscribed', subscriptions }));
  });
  ws.on('error', () => {});
});

server.listen({ host: '127.0.0.1', port: Number(process.env.PORT || 0), backlog: 4096 }, () => {
  console.log(`listening on 127.0.0.1:${server.address().port}`);
});

process.on('SIGTERM', () => {
  for (const client of wss.clients) client.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
