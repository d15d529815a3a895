#!/usr/bin/env python3
"""Test peer: aiohttp's own WebSocket server and client, with permessage-deflate.

Run with target/peers/venv/bin/python (see scripts/setup-peers.sh).
Usage: py_aiohttp.py server
       py_aiohttp.py client URL
server  listens on 127.0.0.1 (a free port) with WebSocketResponse(compress=True),
        prints {"event":"listening","url":…}, echoes every message and after
        each connection prints {"event":"closed","code","extensions"} (the
        Sec-WebSocket-Extensions it answered, or null). Exits when stdin ends.
client  connects with ws_connect(compress=15), prints {"event":"open",
        "extensions":<the server's answer or null>}, sends deflate_suite.MESSAGES
        one at a time reporting each echo as deflate_suite.report does, closes
        with 1000; the last line is always {"event":"close","code"}.
"""
import argparse
import asyncio
import sys
import threading

import aiohttp
from aiohttp import web

from common import emit
from deflate_suite import MESSAGES, MiB, report

MAX = 8 * MiB


async def echo(request):
    ws = web.WebSocketResponse(compress=True, max_msg_size=MAX)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type == aiohttp.WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    emit(event="closed", code=ws.close_code,
         extensions=ws._headers.get("Sec-WebSocket-Extensions") if ws._headers else None)
    return ws


async def server():
    loop = asyncio.get_running_loop()
    stdin_eof = asyncio.Event()

    def wait_stdin():
        while sys.stdin.buffer.read1(65536):
            pass
        loop.call_soon_threadsafe(stdin_eof.set)

    app = web.Application()
    app.router.add_get("/{tail:.*}", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    emit(event="listening", url=f"ws://127.0.0.1:{port}")
    threading.Thread(target=wait_stdin, daemon=True).start()
    await stdin_eof.wait()
    await runner.cleanup()


async def client(url):
    async with aiohttp.ClientSession() as session:
        try:
            ws = await session.ws_connect(url, compress=15, max_msg_size=MAX,
                                          timeout=aiohttp.ClientWSTimeout(ws_receive=5))
        except Exception as e:
            emit(event="error", message=f"{type(e).__name__}: {e}")
            emit(event="close", code=1006)
            return
        emit(event="open", extensions=ws._response.headers.get("Sec-WebSocket-Extensions"),
             compress=ws.compress)
        try:
            for name, msg in MESSAGES:
                if isinstance(msg, bytes):
                    await ws.send_bytes(msg)
                else:
                    await ws.send_str(msg)
                reply = await ws.receive()
                if reply.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    emit(event="error", message=f"{name}: got {reply.type!r} {reply.data!r}")
                    break
                report(name, msg, reply.data)
            await ws.close(code=1000)
        except Exception as e:
            emit(event="error", message=f"{type(e).__name__}: {e}")
        emit(event="close", code=ws.close_code or 1006)


async def main(args):
    if args.role == "server":
        await server()
        return
    try:
        async with asyncio.timeout(10):
            await client(args.url)
    except TimeoutError:
        emit(event="error", message="hard timeout (10 s)")
        emit(event="close", code=1006)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("url", nargs="?")
    asyncio.run(main(ap.parse_args()))
