// uWebSockets.js echoing every message back as it came: `node echo.js 127.0.0.1:PORT`.
const uWS = require('@trufflesuite/uws-js-unofficial');
const [host, port] = (process.argv[2] || '127.0.0.1:9001').split(':');
uWS.App()
  .ws('/*', {
    compression: uWS.DISABLED,
    maxPayloadLength: 64 * 1024 * 1024,
    maxBackpressure: 64 * 1024 * 1024,
    idleTimeout: 0,
    message: (ws, message, isBinary) => { ws.send(message, isBinary); },
  })
  .listen(host, Number(port), (token) => { if (!token) { console.error(`cannot listen on ${host}:${port}`); process.exit(1); } });
