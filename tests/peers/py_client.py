#!/usr/bin/env python3
"""Test peer: a WebSocket client built on the real `websocket-client` package.

Run with target/peers/venv/bin/python (see scripts/setup-peers.sh).
Usage: py_client.py URL [--protocol P]... [--send TEXT]...
Prints one JSON object per line: open, message, error, close. The last line is
always a close event (code 1006 if no close frame was received). Exit 0 unless
the usage is bad.
"""
import os
import struct
import threading
import time

import websocket
from websocket import ABNF

from common import client_args, emit


def hard_timeout():
    emit(event="error", message="hard timeout (10 s)")
    emit(event="close", code=1006, reason="")
    os._exit(0)


def parse_close(payload):
    if len(payload) < 2:
        return 1005, ""
    return struct.unpack("!H", payload[:2])[0], payload[2:].decode("utf-8", "replace")


def main():
    args = client_args(__doc__)
    threading.Timer(10, hard_timeout).start()

    try:
        ws = websocket.create_connection(args.url, subprotocols=args.protocol or None, timeout=5)
    except Exception as e:
        emit(event="error", message=f"{type(e).__name__}: {e}")
        emit(event="close", code=1006, reason="")
        return
    emit(event="open", protocol=ws.getsubprotocol() or "")
    close = None  # (code, reason) once a close frame was received
    try:
        for text in args.send:
            ws.send(text)
        received, deadline = 0, time.monotonic() + 5
        while received < len(args.send) and time.monotonic() < deadline:
            ws.settimeout(deadline - time.monotonic())
            try:
                opcode, frame = ws.recv_data_frame()
            except websocket.WebSocketTimeoutException:
                break
            if opcode == ABNF.OPCODE_CLOSE:  # server closed first (library replied)
                close = parse_close(frame.data)
                break
            data = frame.data if isinstance(frame.data, bytes) else frame.data.encode()
            emit(event="message", data=data.decode("utf-8", "replace"),
                 binary=opcode == ABNF.OPCODE_BINARY)
            received += 1
        if close is None:
            ws.send_close(websocket.STATUS_NORMAL)
            ws.settimeout(5)
            while close is None:
                frame = ws.recv_frame()
                if frame.opcode == ABNF.OPCODE_CLOSE:
                    close = parse_close(frame.data)
    except Exception as e:
        emit(event="error", message=f"{type(e).__name__}: {e}")
    finally:
        ws.shutdown()
    code, reason = close or (1006, "")
    emit(event="close", code=code, reason=reason)


if __name__ == "__main__":
    main()
    os._exit(0)  # don't wait for the hard-timeout timer thread
