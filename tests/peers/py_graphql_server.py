#!/usr/bin/env python3
"""Test peer: GraphQL over WebSocket on the real `strawberry-graphql` (its aiohttp view).

Run with target/peers/venv/bin/python (see scripts/setup-peers.sh).
Usage: py_graphql_server.py [--keep-alive SECS]
Listens on 127.0.0.1 (a free port) and prints
{"event":"listening","url":"ws://127.0.0.1:PORT/graphql"} first.
Both WebSocket subprotocols are on (strawberry's default, no flag needed):
"graphql-transport-ws" (the graphql-ws library's protocol: connection_init/ack,
subscribe/next/error/complete, ping/pong) and the legacy "graphql-ws"
(subscriptions-transport-ws: connection_init/ack, start/data/error/complete/stop,
{"type":"ka"} keep-alives, every --keep-alive SECS, default 1, 0 for none).
Strawberry's legacy "graphql-ws" runs subscriptions only: a query or mutation
there gets {"type":"error","id":ID,"payload":{"message":"queries are not allowed"}}.
The same path also answers plain HTTP GET/POST GraphQL.
Schema:
  Query        hello(name: String = "world"): String   "Hello, NAME!"
               boom: String   always fails: errors[0].message "boom requested"
  Subscription count(to: Int = 3): Int   yields 1..to, 10 ms apart, then completes
               countBoom: Int            yields 1, then fails with "boom requested"
Prints nothing else (resolver errors are not logged). Exits when stdin reaches EOF.
"""
import argparse
import asyncio
import logging
import sys
import threading
from typing import AsyncGenerator

import strawberry
from aiohttp import web
from strawberry.aiohttp.views import GraphQLView
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from common import emit


@strawberry.type
class Query:
    @strawberry.field
    def hello(self, name: str = "world") -> str:
        return f"Hello, {name}!"

    @strawberry.field
    def boom(self) -> str | None:
        raise ValueError("boom requested")


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def count(self, to: int = 3) -> AsyncGenerator[int, None]:
        for i in range(1, to + 1):
            await asyncio.sleep(0.01)
            yield i

    @strawberry.subscription
    async def count_boom(self) -> AsyncGenerator[int, None]:
        yield 1
        raise ValueError("boom requested")


schema = strawberry.Schema(query=Query, subscription=Subscription)


async def main(args):
    loop = asyncio.get_running_loop()
    stdin_eof = asyncio.Event()

    def wait_stdin():
        while sys.stdin.buffer.read1(65536):
            pass
        loop.call_soon_threadsafe(stdin_eof.set)

    view = GraphQLView(
        schema=schema,
        graphql_ide=None,
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL],
        keep_alive=args.keep_alive > 0,  # legacy graphql-ws "ka" messages
        keep_alive_interval=args.keep_alive or 1,
    )
    app = web.Application()
    app.router.add_route("*", "/graphql", view)
    # shutdown_timeout: at stdin EOF, cancel open connections at once.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    emit(event="listening", url=f"ws://127.0.0.1:{port}/graphql")
    threading.Thread(target=wait_stdin, daemon=True).start()
    await stdin_eof.wait()
    await runner.cleanup()


if __name__ == "__main__":
    # Strawberry logs every resolver error with its traceback: expected here.
    logging.getLogger("strawberry.execution").disabled = True
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep-alive", type=float, default=1.0, metavar="SECS",
                    help='legacy graphql-ws {"type":"ka"} interval; 0: none')
    asyncio.run(main(ap.parse_args()))
