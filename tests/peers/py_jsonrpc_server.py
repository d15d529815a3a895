#!/usr/bin/env python3
"""Test peer: JSON-RPC 2.0 over WebSocket, dispatched by the real `jsonrpcserver` library.

Run with target/peers/venv/bin/python (see scripts/setup-peers.sh).
Usage: py_jsonrpc_server.py [--push]
Listens on 127.0.0.1 (a free port) with the `websockets` package and prints
{"event":"listening","url":"ws://127.0.0.1:PORT/"} first (any path is served).
Each WebSocket message (text, or binary as UTF-8) is one JSON-RPC request,
notification or batch, handled in its own task, so a slow call's reply comes
after later fast ones. jsonrpcserver answers per the spec:
  add(a, b)   -> a + b          (positional or named params)
  echo(x)     -> x
  sleep(ms)   -> ms, replied after ms milliseconds
  fail()      -> error {"code":-32000,"message":"it failed"}
  unknown     -> error -32601 "Method not found" (data: the method's name)
  bad params  -> error -32602 "Invalid params"
  bad JSON    -> error -32700 "Parse error", id null
  not a request (e.g. {} or []) -> error -32600 "Invalid request", id null
  a batch     -> one message: an array of the responses (none for notifications);
                 a batch of notifications only gets no message at all
  no "id"     -> a notification: no response
--push: on each connection also sends the notification
  {"jsonrpc":"2.0","method":"tick","params":{"n":N}} every 200 ms, N = 1, 2, ...
For each message received prints {"event":"got","text":MESSAGE}; after each
connection {"event":"closed","code":CODE}. Exits when stdin reaches EOF.
"""
import argparse
import asyncio
import json
import logging
import sys
import threading

from jsonrpcserver import Error, Success, async_dispatch, method
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from common import emit


# The methods (jsonrpcserver's global registry). async_dispatch awaits them.
@method
async def add(a, b):
    return Success(a + b)


@method
async def echo(x):
    return Success(x)


@method
async def sleep(ms):
    await asyncio.sleep(ms / 1000)
    return Success(ms)


@method
async def fail():
    return Error(-32000, "it failed")


async def answer(ws, text):
    """Dispatch one message; send the response unless there is none."""
    reply = await async_dispatch(text)  # "" for notifications
    if reply:
        try:
            await ws.send(reply)
        except ConnectionClosed:
            pass


async def push_ticks(ws):
    n = 0
    while True:
        await asyncio.sleep(0.2)
        n += 1
        await ws.send(json.dumps({"jsonrpc": "2.0", "method": "tick", "params": {"n": n}}))


def handler(push):
    async def handle(ws):
        tasks = set()
        if push:
            tasks.add(asyncio.create_task(push_ticks(ws)))
        try:
            async for msg in ws:
                text = msg if isinstance(msg, str) else msg.decode("utf-8", "replace")
                emit(event="got", text=text)
                task = asyncio.create_task(answer(ws, text))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except ConnectionClosed:
            pass
        for t in tasks:
            t.cancel()
        emit(event="closed", code=ws.close_code or 1006)

    return handle


async def main(args):
    loop = asyncio.get_running_loop()
    stdin_eof = asyncio.Event()

    def wait_stdin():
        while sys.stdin.buffer.read1(65536):
            pass
        loop.call_soon_threadsafe(stdin_eof.set)

    async with serve(handler(args.push), "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        emit(event="listening", url=f"ws://127.0.0.1:{port}/")
        threading.Thread(target=wait_stdin, daemon=True).start()
        await stdin_eof.wait()
        server.close(close_connections=True)


if __name__ == "__main__":
    # jsonrpcserver logs each failing call with its traceback: expected here.
    logging.getLogger("jsonrpcserver").setLevel(logging.CRITICAL + 1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--push", action="store_true",
                    help='send {"method":"tick","params":{"n":N}} every 200 ms')
    asyncio.run(main(ap.parse_args()))
