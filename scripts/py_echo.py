"""The classic Python `websockets` echo server, on the library's current API."""
import asyncio
import sys

from websockets.asyncio.server import serve


async def echo(websocket):
    async for message in websocket:
        await websocket.send(message)


async def main(host, port):
    async with serve(echo, host, port, max_size=None) as server:
        print(f"listening on ws://{host}:{port}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    host, port = sys.argv[1].rsplit(":", 1)
    asyncio.run(main(host, int(port)))
