#!/usr/bin/env python3
"""Test peer: a Socket.IO v5 protocol (engine.io v4) server on the real `python-socketio`.

Run with target/peers/venv/bin/python (see scripts/setup-peers.sh).
Usage: py_socketio_server.py [--fast-ping]
Served by aiohttp on 127.0.0.1 (a free port) at the default path /socket.io/.
Prints {"event":"listening","url":"http://127.0.0.1:PORT/"} first.

Engine.IO heartbeat: the server sends "2" (ping) every ping_interval and drops
a client whose "3" (pong) is not back within ping_timeout. Defaults are
python-engineio's (25 s / 20 s); --fast-ping makes them 1 s / 2 s, so a client
that does not answer pings is dropped within about 3 s.

In both namespaces "/" and "/chat":
  on connect      emits "welcome" with {"sid": SID} (SID: the Socket.IO sid
                  of that namespace's connection)
  "echo" ARGS...  emits "echo" back with the same arguments
  "add" A B       returns A + B as the ack (when the client asked for one)
  "bin"           emits "bin" with one binary attachment b"\\x00\\x01\\x02"
  "bye"           the server disconnects the client from that namespace
  any event       first prints {"event":"got","namespace":NS,"name":NAME,"args":[...]}
                  (a bytes argument is shown as {"bytes_hex":"0001.."})
  on disconnect   prints {"event":"disconnected","sid":SID,"namespace":NS,"reason":R}
Exits when stdin reaches EOF.
"""
import argparse
import asyncio
import sys
import threading

import socketio
from aiohttp import web

from common import emit

NAMESPACES = ("/", "/chat")


def jsonable(v):
    """An event argument as JSON can show it (bytes become {"bytes_hex"})."""
    if isinstance(v, (bytes, bytearray)):
        return {"bytes_hex": bytes(v).hex()}
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v


def make_server(fast_ping):
    timing = {"ping_interval": 1, "ping_timeout": 2} if fast_ping else {}
    # always_connect: the CONNECT reply goes out before our connect handler
    # runs, so the "welcome" it emits reaches the client after it.
    sio = socketio.AsyncServer(async_mode="aiohttp", always_connect=True,
                               cors_allowed_origins="*", **timing)

    for ns in NAMESPACES:
        def handlers(ns):
            async def connect(sid, environ, auth=None):
                await sio.emit("welcome", {"sid": sid}, to=sid, namespace=ns)

            async def disconnect(sid, reason=None):
                emit(event="disconnected", sid=sid, namespace=ns, reason=str(reason))

            async def any_event(name, sid, *args):
                emit(event="got", namespace=ns, name=name, args=jsonable(list(args)))
                if name == "echo":
                    # A tuple is sent as that many arguments (even 0 or 1).
                    await sio.emit("echo", tuple(args), to=sid, namespace=ns)
                elif name == "add":
                    return args[0] + args[1]  # the ack's argument
                elif name == "bin":
                    await sio.emit("bin", b"\x00\x01\x02", to=sid, namespace=ns)
                elif name == "bye":
                    await sio.disconnect(sid, namespace=ns)
                return None

            sio.on("connect", connect, namespace=ns)
            sio.on("disconnect", disconnect, namespace=ns)
            sio.on("*", any_event, namespace=ns)

        handlers(ns)
    return sio


async def main(args):
    loop = asyncio.get_running_loop()
    stdin_eof = asyncio.Event()

    def wait_stdin():
        while sys.stdin.buffer.read1(65536):
            pass
        loop.call_soon_threadsafe(stdin_eof.set)

    app = web.Application()
    make_server(args.fast_ping).attach(app)  # at /socket.io/
    # shutdown_timeout: at stdin EOF, cancel open connections' handlers at
    # once instead of waiting (60 s by default) for them to end.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    emit(event="listening", url=f"http://127.0.0.1:{port}/")
    threading.Thread(target=wait_stdin, daemon=True).start()
    await stdin_eof.wait()
    await runner.cleanup()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fast-ping", action="store_true",
                    help="engine.io ping_interval 1 s, ping_timeout 2 s")
    asyncio.run(main(ap.parse_args()))
