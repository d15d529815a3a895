#!/usr/bin/env python3
"""Test peer: Debian's real `mosquitto` MQTT broker, with a WebSocket listener.

Run with target/peers/venv/bin/python (scripts/setup-peers.sh installs the
mosquitto package too). Usage: py_mosquitto.py [--verbose]
Starts mosquitto on a free 127.0.0.1 port for MQTT over WebSocket (subprotocol
"mqtt"; MQTT 3.1, 3.1.1 and 5.0; anonymous clients allowed; nothing persisted),
waits until that port accepts TCP connections, then prints
{"event":"listening","url":"ws://127.0.0.1:PORT/","pid":BROKER_PID}.
If the broker ends on its own it prints {"event":"exited","code":RC}.
The broker's log goes to our stderr with --verbose, else nowhere (it is shown
on stderr if the broker fails to start). Stops the broker when stdin reaches
EOF; if this wrapper is killed, the kernel sends the broker SIGTERM.
Nothing is left on disk once the broker is listening.
"""
import argparse
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from common import emit

# mosquitto 2.0.11 (Debian 12) refuses to start when a WebSocket listener is
# its only listener ("Unable to start any listening sockets"), so it also gets
# a plain MQTT listener on a Unix socket nobody uses.
# The WebSocket listener's address is a libwebsockets *interface name*: given
# "127.0.0.1" it binds every address, given "lo" it binds 127.0.0.1 only.
# "user": as root, mosquitto would switch to the user "mosquitto", which clears
# the parent-death signal (see die_with_parent); naming our own user keeps it.
CONF = """\
user {user}
listener 0 {unix_socket}
listener {port} lo
protocol websockets
allow_anonymous true
persistence false
log_dest stderr
log_timestamp_format %H:%M:%S
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent():
    """In the broker, before exec: SIGTERM it when this wrapper dies (PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def start(broker, verbose):
    """The broker process and its port; retries if the port was taken meanwhile."""
    for _attempt in range(5):
        tmp = tempfile.mkdtemp(prefix="wsprobe-mosquitto-")
        try:
            port = free_port()
            conf = os.path.join(tmp, "mosquitto.conf")
            with open(conf, "w") as f:
                f.write(CONF.format(port=port, unix_socket=os.path.join(tmp, "mqtt.sock"),
                                    user=pwd.getpwuid(os.geteuid()).pw_name))
            log = None if verbose else tempfile.TemporaryFile()
            proc = subprocess.Popen([broker, "-c", conf], stdin=subprocess.DEVNULL,
                                    stdout=sys.stderr if verbose else log,
                                    stderr=sys.stderr if verbose else log,
                                    preexec_fn=die_with_parent)
            deadline = time.monotonic() + 10
            while proc.poll() is None and time.monotonic() < deadline:
                if accepts(port):
                    return proc, port
                time.sleep(0.02)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if log is not None:
                log.seek(0)
                sys.stderr.write(log.read().decode("utf-8", "replace"))
            print(f"py_mosquitto: broker did not listen on port {port} (exit {proc.returncode})",
                  file=sys.stderr)
        finally:
            # mosquitto has read its config and bound its sockets (or failed).
            shutil.rmtree(tmp, ignore_errors=True)
    sys.exit("py_mosquitto: mosquitto would not start")


def main(args):
    broker = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.access(broker, os.X_OK):
        sys.exit("py_mosquitto: mosquitto not found (run scripts/setup-peers.sh as root)")
    proc, port = start(broker, args.verbose)
    emit(event="listening", url=f"ws://127.0.0.1:{port}/", pid=proc.pid)

    def watch_broker():
        code = proc.wait()
        if not stopping.is_set():
            emit(event="exited", code=code)

    stopping = threading.Event()
    threading.Thread(target=watch_broker, daemon=True).start()
    # The main thread (which started the broker: PR_SET_PDEATHSIG follows the
    # thread) waits for stdin's end, then stops the broker.
    while sys.stdin.buffer.read1(65536):
        pass
    stopping.set()
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--verbose", action="store_true", help="the broker's log on stderr")
    main(ap.parse_args())
