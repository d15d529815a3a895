#!/usr/bin/env python3
"""Test peer: the upstream behind `wsprobe relay`, on the real `websockets` package.

Run with target/peers/venv/bin/python (see scripts/setup-peers.sh).
Usage: py_relay_server.py [--protocol P]...
Listens on 127.0.0.1 (a free port), prints {"event":"listening","url":...}, and
behaves by the path asked for:
  /refuse        answers 403 with the body "no entry" (no upgrade)
  /close         after the first message, closes with 4001 "server says bye"
  /drop          after the first message, drops the TCP connection
  /silent        never reads (its TCP window fills)
  anything else  first sends {"path","headers"} as JSON, then echoes every
                 message; a text message "ping-me" makes it ping the client
                 and send "pong-ok" once the pong is back; a JSON call
                 {"id":…,"method":M} gets {"id":…,"result":M in capitals}
After each connection it prints {"event":"closed","path","code","reason"}.
Exits when stdin reaches EOF.
"""
import argparse
import asyncio
import json
import sys
import threading

from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Response

from common import emit


def refuse(conn, request):
    if request.path.startswith("/refuse"):
        return Response(403, "Forbidden", Headers([("X-Why", "refused by test")]), b"no entry")
    return None


def call(msg):
    """A JSON-RPC-like call, or None."""
    try:
        v = json.loads(msg)
    except (ValueError, TypeError):
        return None
    return v if isinstance(v, dict) and "method" in v and "id" in v else None


async def handler(ws):
    path = ws.request.path
    try:
        if path.startswith("/silent"):
            ws.transport.pause_reading()
            await asyncio.sleep(30)
        elif path.startswith("/close"):
            await ws.recv()
            await ws.close(4001, "server says bye")
        elif path.startswith("/drop"):
            await ws.recv()
            ws.transport.abort()
        else:
            headers = {k.lower(): v for k, v in ws.request.headers.raw_items()}
            await ws.send(json.dumps({"path": path, "headers": headers}))
            async for msg in ws:
                if msg == "ping-me":
                    await (await ws.ping(b"srv"))
                    await ws.send("pong-ok")
                elif call(msg):
                    await ws.send(json.dumps({"id": call(msg)["id"], "result": call(msg)["method"].upper()}))
                else:
                    await ws.send(msg)
    except ConnectionClosed:
        pass
    emit(event="closed", path=path, code=ws.close_code or 1006, reason=ws.close_reason or "")


async def main(args):
    loop = asyncio.get_running_loop()
    stdin_eof = asyncio.Event()

    def wait_stdin():
        while sys.stdin.buffer.read1(65536):
            pass
        loop.call_soon_threadsafe(stdin_eof.set)

    async with serve(handler, "127.0.0.1", 0, subprotocols=args.protocol or None,
                     process_request=refuse, max_size=32 * 1024 * 1024) as server:
        port = server.sockets[0].getsockname()[1]
        emit(event="listening", url=f"ws://127.0.0.1:{port}")
        threading.Thread(target=wait_stdin, daemon=True).start()
        await stdin_eof.wait()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protocol", action="append", default=[])
    asyncio.run(main(ap.parse_args()))
