#!/usr/bin/env node
// Test peer: a WebSocket client built on the real `ws` npm package (pinned in
// package.json, installed by scripts/setup-peers.sh into target/peers/node).
// Usage: node node_client.js URL [--protocol P]... [--send TEXT]...
// Prints one JSON object per line: open, message, error, close. The last line
// is always a close event (code 1006 if no close frame was received). Exit 0
// unless the usage is bad.
'use strict';
const path = require('path');
const WebSocket = require(path.join(__dirname, '../../target/peers/node/node_modules/ws'));

const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const usage = () => {
  process.stderr.write('usage: node_client.js URL [--protocol P]... [--send TEXT]...\n');
  process.exit(2);
};

let url = null;
const protocols = [];
const sends = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--protocol' && i + 1 < argv.length) protocols.push(argv[++i]);
  else if (argv[i] === '--send' && i + 1 < argv.length) sends.push(argv[++i]);
  else if (!argv[i].startsWith('--') && url === null) url = argv[i];
  else usage();
}
if (url === null) usage();

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
  ws = new WebSocket(url, protocols);
} catch (e) {
  emit({ event: 'error', message: String(e.message || e) });
  emit({ event: 'close', code: 1006, reason: '' });
  process.exit(0);
}
const finish = () => { if (ws.readyState === WebSocket.OPEN) ws.close(1000); };
ws.on('open', () => {
  emit({ event: 'open', protocol: ws.protocol || '' });
  for (const s of sends) ws.send(s);
  if (received >= sends.length) finish();
  else setTimeout(finish, 5000).unref();
});
ws.on('message', (data, isBinary) => {
  emit({ event: 'message', data: Buffer.from(data).toString('utf8'), binary: isBinary });
  if (++received >= sends.length) finish();
});
ws.on('error', (e) => emit({ event: 'error', message: String(e.message || e) }));
ws.on('close', (code, reason) => {
  closed = true;
  emit({ event: 'close', code, reason: reason.toString('utf8') });
  process.exit(0);
});
