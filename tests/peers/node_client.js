#!/usr/bin/env node
// Test peer: a WebSocket client on the real `ws` npm package (pinned in
// package.json, installed by scripts/setup-peers.sh into target/peers/node), or
// with --builtin on Node's own global `WebSocket` (undici: what browser code
// runs on). Node 20 has that one only behind --experimental-websocket, so the
// script re-runs itself once with the flag; without it, it prints
// {"event":"unsupported"}.
// Usage: node node_client.js URL [--builtin] [--protocol P]... [--send TEXT]...
// Prints one JSON object per line: open, message, error, close. The last line
// is always a close event (1006 if no close frame came). Exit 0 unless the
// usage is bad.
'use strict';
const path = require('path');

const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const usage = () => {
  process.stderr.write('usage: node_client.js URL [--builtin] [--protocol P]... [--send TEXT]...\n');
  process.exit(2);
};

let url = null;
let builtin = false;
const protocols = [];
const sends = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--protocol' && i + 1 < argv.length) protocols.push(argv[++i]);
  else if (argv[i] === '--send' && i + 1 < argv.length) sends.push(argv[++i]);
  else if (argv[i] === '--builtin') builtin = true;
  else if (!argv[i].startsWith('--') && url === null) url = argv[i];
  else usage();
}
if (url === null) usage();

if (builtin && typeof WebSocket === 'undefined') {
  const flag = '--experimental-websocket';
  if (!process.execArgv.includes(flag) && process.allowedNodeEnvironmentFlags.has(flag)) {
    const { spawnSync } = require('child_process');
    const r = spawnSync(process.execPath, [flag, '--no-warnings', ...process.argv.slice(1)], { stdio: 'inherit' });
    process.exit(r.status === null ? 1 : r.status);
  }
  emit({ event: 'unsupported' });
  process.exit(0);
}
const Client = builtin
  ? WebSocket
  : require(path.join(__dirname, '../../target/peers/node/node_modules/ws'));

setTimeout(() => {
  emit({ event: 'error', message: 'hard timeout (10 s)' });
  emit({ event: 'close', code: 1006, reason: '' });
  process.exit(0);
}, 10000).unref();

let received = 0;
let closed = false;
// Always end with a close line, even if the library never fires one.
process.on('beforeExit', () => { if (!closed) emit({ event: 'close', code: 1006, reason: '' }); });
let ws;
try {
  ws = new Client(url, protocols);
} catch (e) {
  emit({ event: 'error', message: String(e.message || e) });
  emit({ event: 'close', code: 1006, reason: '' });
  process.exit(0);
}
// Both libraries speak the browser's event API.
ws.binaryType = 'arraybuffer';
const finish = () => { if (ws.readyState === Client.OPEN) ws.close(1000); };
ws.addEventListener('open', () => {
  emit({ event: 'open', protocol: ws.protocol || '' });
  for (const s of sends) ws.send(s);
  if (received >= sends.length) finish();
  else setTimeout(finish, 5000).unref();
});
ws.addEventListener('message', (ev) => {
  const binary = typeof ev.data !== 'string';
  emit({ event: 'message', data: binary ? Buffer.from(ev.data).toString('utf8') : ev.data, binary });
  if (++received >= sends.length) finish();
});
ws.addEventListener('error', (ev) => {
  emit({ event: 'error', message: String((ev.error && ev.error.message) || ev.message || 'error') });
});
ws.addEventListener('close', (ev) => {
  closed = true;
  emit({ event: 'close', code: ev.code, reason: String(ev.reason || '') });
  process.exit(0);
});
