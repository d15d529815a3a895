#!/usr/bin/env python3
"""Test peer: a WebSocket client built on the real `websockets` package (asyncio).

Run with target/peers/venv/bin/python (see scripts/setup-peers.sh).
Usage: py_websockets_client.py URL [--protocol P]... [--send TEXT]...
Prints one JSON object per line: open, message, error, close. The last line is
always a close event (code 1006 if no close frame was received). Exit 0 unless
the usage is bad.
"""
import asyncio

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from common import client_args, emit


async def run(args):
    try:
        ws = await connect(args.url, subprotocols=args.protocol or None, open_timeout=5)
    except Exception as e:
        emit(event="error", message=f"{type(e).__name__}: {e}")
        emit(event="close", code=1006, reason="")
        return
    emit(event="open", protocol=ws.subprotocol or "")
    try:
        for text in args.send:
            await ws.send(text)
        async with asyncio.timeout(5):
            for _ in args.send:
                msg = await ws.recv()
                binary = isinstance(msg, bytes)
                emit(event="message", data=msg.decode("utf-8", "replace") if binary else msg,
                     binary=binary)
    except (TimeoutError, ConnectionClosed):
        pass
    except Exception as e:
        emit(event="error", message=f"{type(e).__name__}: {e}")
    await ws.close(1000)
    emit(event="close", code=ws.close_code or 1006, reason=ws.close_reason or "")


async def main(args):
    try:
        async with asyncio.timeout(10):
            await run(args)
    except TimeoutError:
        emit(event="error", message="hard timeout (10 s)")
        emit(event="close", code=1006, reason="")


if __name__ == "__main__":
    asyncio.run(main(client_args(__doc__)))
