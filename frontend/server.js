// Dev server for the reference frontend: serves index.html, the live config.json, and
// run.json (the run's correlation ID, which the page sends with every health request).
// Plain Node (18+), no packages, so it runs straight from a fresh checkout.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

// `cargo xtask dev` sets FRONTEND_HOST and FRONTEND_PORT (the port it settled on).
const HOST = process.env.FRONTEND_HOST || '127.0.0.1';
const SHOWN_HOST = HOST.includes(':') ? `[${HOST}]` : HOST;
const INDEX_PATH = path.join(__dirname, 'index.html');
const CONFIG_PATH = path.join(__dirname, 'config.json');

function fail(message) {
  console.error(`frontend: ${message}`);
  process.exit(1);
}

const rawPort = process.env.FRONTEND_PORT ?? '5173';
const port = Number(rawPort);
if (!/^\d+$/.test(rawPort) || port > 65535) {
  fail(`FRONTEND_PORT must be an integer from 0 to 65535, got ${JSON.stringify(rawPort)}`);
}

function send(res, status, type, body) {
  // no-store: the coordinator rewrites config.json while the page is open.
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
}

// What the page needs to know about this run; fixed for the server's lifetime.
const RUN = JSON.stringify({ correlation_id: process.env.CORRELATION_ID || null });

const server = http.createServer((req, res) => {
  const { pathname } = new URL(req.url, `http://${SHOWN_HOST}`);
  if (pathname === '/run.json') {
    send(res, 200, 'application/json', RUN);
    return;
  }
  const file = pathname === '/' || pathname === '/index.html' ? INDEX_PATH
    : pathname === '/config.json' ? CONFIG_PATH : null;
  if (file === null) {
    send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    return;
  }
  // Read on every request so that the page always sees the port the coordinator wrote last.
  fs.readFile(file, (err, data) => {
    if (err) {
      send(res, 500, 'text/plain; charset=utf-8', `cannot read ${path.basename(file)}: ${err.message}\n`);
    } else {
      const type = file === CONFIG_PATH ? 'application/json' : 'text/html; charset=utf-8';
      send(res, 200, type, data);
    }
  });
});

// A bad config.json is reported before listening, since the page could not work with it.
let backend;
try {
  ({ backend } = JSON.parse(fs.readFileSync(CONFIG_PATH, 'utf8')));
  if (!backend?.host || !backend?.port) throw new Error('backend.host and backend.port are required');
} catch (err) {
  fail(`cannot read backend address from ${CONFIG_PATH}: ${err.message}`);
}

server.on('error', (err) => {
  const reason = err.code === 'EADDRINUSE' ? 'address already in use' : err.message;
  fail(`cannot listen on ${SHOWN_HOST}:${port}: ${reason}`);
});

if (process.env.CORRELATION_ID) {
  console.log(`frontend: correlation_id=${process.env.CORRELATION_ID}`);
}
server.listen(port, HOST, () => {
  const actual = server.address().port;
  console.log(`frontend: serving http://${SHOWN_HOST}:${actual}/ (backend http://${backend.host}:${backend.port} from config.json)`);
});

function shutdown() {
  server.close(() => process.exit(0));
  // Browsers keep connections alive; without this, close() would wait for them.
  server.closeAllConnections();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
