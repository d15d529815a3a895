#!/usr/bin/env python3
"""Test peer: a permessage-deflate client on the real `websockets` package (asyncio).

Run with target/peers/venv/bin/python (see scripts/setup-peers.sh).
Usage: py_deflate_client.py URL [suite|bomb|bomb-fragments] [--no-compression]
         [--server-no-context-takeover] [--client-no-context-takeover]
         [--server-max-window-bits N] [--client-max-window-bits N]
Offers permessage-deflate (websockets' default offer, or one built with
ClientPerMessageDeflateFactory from the flags; none with --no-compression) and
prints one JSON object per line:
  {"event":"open","extensions":<the server's Sec-WebSocket-Extensions or null>,
   "agreed":<the extensions websockets runs, as text>}
  suite  sends deflate_suite.MESSAGES one at a time, then a text in three
         fragments ("fragmented"), each echo reported as deflate_suite.report
         does; then closes with 1000
  bomb   sends 1 MiB of zeros (about 1 KiB compressed) and waits for the close
  bomb-fragments  the same 1 MiB as 64 fragments of 16 KiB (each fragment
         inflates to little; only the whole message is too big)
The last line is always {"event":"close","code","reason"} (1006 when none came).
"""
import argparse
import asyncio

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from common import emit
from deflate_suite import MESSAGES, MiB, report


async def suite(ws):
    for name, msg in MESSAGES:
        await ws.send(msg)
        report(name, msg, await ws.recv())
    await ws.send(["frag", "mented ", "text"])
    report("fragmented", "fragmented text", await ws.recv())
    await ws.close(1000)


async def bomb(ws, fragments=1):
    try:
        if fragments == 1:
            await ws.send(bytes(MiB))
        else:
            await ws.send(bytes(MiB // fragments) for _ in range(fragments))
        emit(event="sent", len=MiB)
    except ConnectionClosed:
        pass  # closed by the server before the last fragment went
    async for msg in ws:
        emit(event="message", len=len(msg))


async def run(args):
    kwargs = {}
    if args.no_compression:
        kwargs["compression"] = None
    elif (args.server_no_context_takeover or args.client_no_context_takeover
          or args.server_max_window_bits or args.client_max_window_bits):
        kwargs["compression"] = None
        kwargs["extensions"] = [ClientPerMessageDeflateFactory(
            server_no_context_takeover=args.server_no_context_takeover,
            client_no_context_takeover=args.client_no_context_takeover,
            server_max_window_bits=args.server_max_window_bits,
            client_max_window_bits=args.client_max_window_bits or True,
        )]
    try:
        ws = await connect(args.url, open_timeout=5, max_size=8 * MiB, **kwargs)
    except Exception as e:
        emit(event="error", message=f"{type(e).__name__}: {e}")
        emit(event="close", code=1006, reason="")
        return
    emit(event="open", extensions=ws.response.headers.get("Sec-WebSocket-Extensions"),
         agreed=repr(ws.protocol.extensions))
    try:
        if args.scenario == "suite":
            await suite(ws)
        else:
            await bomb(ws, 64 if args.scenario == "bomb-fragments" else 1)
        await ws.wait_closed()
    except ConnectionClosed:
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
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("scenario", nargs="?", default="suite", choices=["suite", "bomb", "bomb-fragments"])
    ap.add_argument("--no-compression", action="store_true")
    ap.add_argument("--server-no-context-takeover", action="store_true")
    ap.add_argument("--client-no-context-takeover", action="store_true")
    ap.add_argument("--server-max-window-bits", type=int)
    ap.add_argument("--client-max-window-bits", type=int)
    asyncio.run(main(ap.parse_args()))
