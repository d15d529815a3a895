#!/usr/bin/env python3
"""Test peer: an echo server built on the real `websockets` package (asyncio).

Run with target/peers/venv/bin/python (see scripts/setup-peers.sh).
Usage: py_websockets_server.py [--port N] [--protocol P]...
Listens on 127.0.0.1 (port 0 = pick a free one), prints
{"event":"listening","url":"ws://127.0.0.1:PORT"}, echoes every message, and
after each connection prints {"event":"closed","code":N,"reason":"..."} with
the close frame the client sent (1006 if none). With --protocol it negotiates
the first client-offered subprotocol in that list. Exits when stdin reaches EOF
(tests stop it by closing its stdin), so don't run it with stdin=/dev/null.
"""
import argparse
import asyncio
import sys
import threading

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from common import emit


async def echo(ws):
    try:
        async for msg in ws:
            await ws.send(msg)
    except ConnectionClosed:
        pass
    emit(event="closed", code=ws.close_code or 1006, reason=ws.close_reason or "")


async def main(args):
    loop = asyncio.get_running_loop()
    stdin_eof = asyncio.Event()

    def wait_stdin():
        while sys.stdin.buffer.read1(65536):
            pass
        loop.call_soon_threadsafe(stdin_eof.set)

    async with serve(echo, "127.0.0.1", args.port, subprotocols=args.protocol or None) as server:
        port = server.sockets[0].getsockname()[1]
        emit(event="listening", url=f"ws://127.0.0.1:{port}")
        threading.Thread(target=wait_stdin, daemon=True).start()
        await stdin_eof.wait()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--protocol", action="append", default=[])
    asyncio.run(main(ap.parse_args()))
