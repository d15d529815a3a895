#!/usr/bin/env python3
"""Test peer: a client of `wsprobe relay`, on the real `websockets` package.

Run with target/peers/venv/bin/python (see scripts/setup-peers.sh).
Usage: py_relay_client.py URL SCENARIO [--protocol P]... [--header 'K: V']...
Prints one JSON object per line. Scenarios:
  full     reads the server's greeting, then sends text, binary, a 16 MiB
           binary, a fragmented text, a ping, "ping-me" (the server pings), and
           closes with 4000 "client bye"; reports each reply and the close
  one      sends "hello" once (after the greeting, if any) and waits for the close
  handshake  only connects; reports the refusal status and body if refused
  drop     sends "bye" and drops the TCP connection without a close frame
The last line is always {"event":"close","code","reason"} (1006 when none).
"""
import argparse
import asyncio
import hashlib

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from common import emit


def show(msg):
    if isinstance(msg, bytes):
        emit(event="message", binary=True, len=len(msg), sha256=hashlib.sha256(msg).hexdigest())
    else:
        emit(event="message", binary=False, data=msg[:2000])


async def full(ws):
    show(await ws.recv())
    await ws.send("hello relay")
    show(await ws.recv())
    await ws.send(b"\x00\x01binary\xff")
    show(await ws.recv())
    big = bytes(range(256)) * (16 * 1024 * 1024 // 256)
    emit(event="sent", len=len(big), sha256=hashlib.sha256(big).hexdigest())
    await ws.send(big)
    show(await ws.recv())
    await ws.send(["frag", "mented ", "text"])
    show(await ws.recv())
    latency = await ws.ping(b"cli")
    await latency
    emit(event="pong")
    await ws.send("ping-me")
    show(await ws.recv())
    await ws.close(4000, "client bye")


async def run(args):
    headers = [tuple(h.split(": ", 1)) for h in args.header]
    try:
        ws = await connect(args.url, subprotocols=args.protocol or None, open_timeout=5,
                           additional_headers=headers, max_size=32 * 1024 * 1024)
    except InvalidStatus as e:
        emit(event="refused", status=e.response.status_code,
             body=e.response.body.decode("utf-8", "replace"))
        emit(event="close", code=1006, reason="")
        return
    except Exception as e:
        emit(event="error", message=f"{type(e).__name__}: {e}")
        emit(event="close", code=1006, reason="")
        return
    emit(event="open", protocol=ws.subprotocol or "")
    try:
        if args.scenario == "full":
            await full(ws)
        elif args.scenario == "one":
            await ws.send("hello")
            async for msg in ws:
                show(msg)
        elif args.scenario == "drop":
            await ws.send("bye")
            ws.transport.abort()
        await ws.wait_closed()
    except ConnectionClosed:
        pass
    emit(event="close", code=ws.close_code or 1006, reason=ws.close_reason or "")


async def main(args):
    try:
        async with asyncio.timeout(20):
            await run(args)
    except TimeoutError:
        emit(event="error", message="hard timeout (20 s)")
        emit(event="close", code=1006, reason="")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("scenario", choices=["full", "one", "handshake", "drop"])
    ap.add_argument("--protocol", action="append", default=[])
    ap.add_argument("--header", action="append", default=[])
    asyncio.run(main(ap.parse_args()))
