#!/usr/bin/env node
// Test peer: permessage-deflate on the real `ws` npm package (pinned in
// package.json, installed by scripts/setup-peers.sh into target/peers/node),
// with `threshold: 0` so that every message is compressed (ws leaves messages
// under 1 KiB alone by default).
// Usage: node node_deflate.js server [--strict]
//        node node_deflate.js client URL
// server    listens on 127.0.0.1 (a free port), prints {"event":"listening","url"},
//           echoes every message, and after each connection prints
//           {"event":"closed","code","extensions":<its answer's header or null>}.
//           With --strict it imposes server_no_context_takeover,
//           client_no_context_takeover, server_max_window_bits=9 and
//           client_max_window_bits=9 on every client that offers compression.
//           Exits when stdin ends.
// client    prints {"event":"open","extensions":<the server's answer or null>},
//           sends the messages of tests/peers/deflate_suite.py (made here the
//           same way: empty, text, unicode, binary, 20 repeats, 1 MiB of text
//           repeating every 1500 bytes, 256 KiB of random bytes) one at a time,
//           prints {"event":"echo","name","ok","len"} for each echo, closes with
//           1000. The last line is always {"event":"close","code","reason"}.
'use strict';
const crypto = require('crypto');
const path = require('path');
const WebSocket = require(path.join(__dirname, '../../target/peers/node/node_modules/ws'));

const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const MiB = 1024 * 1024;
const argv = process.argv.slice(2);

function server(strict) {
  const perMessageDeflate = strict
    ? {
        threshold: 0,
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 9,
        clientMaxWindowBits: 9,
      }
    : { threshold: 0 };
  const wss = new WebSocket.WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate,
    maxPayload: 8 * MiB,
  });
  const answers = new WeakMap();
  wss.on('headers', (headers, req) => {
    const ext = headers.find((h) => h.toLowerCase().startsWith('sec-websocket-extensions:'));
    answers.set(req, ext ? ext.slice(ext.indexOf(':') + 1).trim() : null);
  });
  wss.on('listening', () => {
    emit({ event: 'listening', url: `ws://127.0.0.1:${wss.address().port}` });
  });
  wss.on('connection', (ws, req) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', (e) => emit({ event: 'error', message: String(e.message || e) }));
    ws.on('close', (code) => emit({ event: 'closed', code, extensions: answers.get(req) }));
  });
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

function messages() {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ';
  let period = '';
  for (let i = 0; i < 1500; i++) period += letters[crypto.randomInt(letters.length)];
  const bigText = period.repeat(Math.ceil(MiB / period.length)).slice(0, MiB);
  const msgs = [
    ['empty', ''],
    ['text', 'hello deflate'],
    ['unicode', 'wörld ✓ ünïcödé 🚀'],
    ['binary', Buffer.from(Array.from({ length: 1024 }, (_, i) => i % 256))],
  ];
  const repeated = '{"op":"subscribe","channel":"ticker.BTC-USD","id":42,"depth":"full"}';
  for (let i = 0; i < 20; i++) msgs.push([`repeat${i}`, repeated]);
  msgs.push(['big-text', bigText], ['big-binary', crypto.randomBytes(MiB / 4)]);
  return msgs;
}

function client(url) {
  setTimeout(() => {
    emit({ event: 'error', message: 'hard timeout (10 s)' });
    emit({ event: 'close', code: 1006, reason: '' });
    process.exit(0);
  }, 10000).unref();
  const msgs = messages();
  let next = 0;
  const ws = new WebSocket(url, { perMessageDeflate: { threshold: 0 }, maxPayload: 8 * MiB });
  let answer = null;
  ws.on('upgrade', (res) => { answer = res.headers['sec-websocket-extensions'] || null; });
  const sendNext = () => {
    if (next < msgs.length) ws.send(msgs[next][1]);
    else ws.close(1000);
  };
  ws.on('open', () => {
    emit({ event: 'open', extensions: answer, agreed: ws.extensions });
    sendNext();
  });
  ws.on('message', (data, isBinary) => {
    const [name, sent] = msgs[next++];
    const ok = typeof sent === 'string'
      ? !isBinary && data.toString('utf8') === sent
      : isBinary && Buffer.compare(data, sent) === 0;
    const line = { event: 'echo', name, ok, len: Buffer.byteLength(sent) };
    if (!ok) Object.assign(line, { got_binary: isBinary, got_len: data.length });
    emit(line);
    sendNext();
  });
  ws.on('error', (e) => emit({ event: 'error', message: String(e.message || e) }));
  ws.on('close', (code, reason) => {
    emit({ event: 'close', code, reason: reason.toString() });
    process.exit(0);
  });
}

if (argv[0] === 'server') server(argv.includes('--strict'));
else if (argv[0] === 'client' && argv[1]) client(argv[1]);
else {
  process.stderr.write('usage: node_deflate.js server [--strict] | client URL\n');
  process.exit(2);
}
