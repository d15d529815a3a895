// An echo server on Node's `ws` with permessage-deflate on every message
// (threshold 0: by default ws leaves messages under 1 KiB uncompressed).
// Usage: node scripts/node_echo.js HOST:PORT   (ws from target/peers/node)
const path = require('path');
const WebSocket = require(path.join(__dirname, '..', 'target', 'peers', 'node', 'node_modules', 'ws'));
const [host, port] = process.argv[2].split(':');
const wss = new WebSocket.WebSocketServer({
  host,
  port: Number(port),
  maxPayload: 0,
  perMessageDeflate: { threshold: 0 },
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
wss.on('listening', () => console.log(`listening on ws://${host}:${port}`));
