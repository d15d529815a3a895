#!/usr/bin/env python3
"""Test peer: Debian's real RabbitMQ broker, with its Web-STOMP plugin.

Run with target/peers/venv/bin/python (scripts/setup-peers.sh installs the
rabbitmq-server package too). Usage: py_rabbitmq.py [--verbose]
Starts a private RabbitMQ node (its own temp dir, Erlang cookie, epmd and
ports; no AMQP or plain STOMP listener) serving STOMP over WebSocket on a free
127.0.0.1 port: path /ws, subprotocols v10.stomp, v11.stomp, v12.stomp; user
guest/guest (loopback only), virtual host "/". RabbitMQ takes ~10 s to boot.
Once that port accepts TCP connections it prints
{"event":"listening","url":"ws://127.0.0.1:PORT/ws","pid":BROKER_PID};
if it does not within 60 s, it prints {"event":"error","message":...} instead
(the broker's log tail on stderr) and exits 1.
If the broker ends on its own it prints {"event":"exited","code":RC}.
The broker's log goes to our stderr with --verbose, else nowhere.
Stops everything when stdin reaches EOF. If this wrapper is killed instead,
the kernel sends the broker SIGTERM and kills the epmd (PR_SET_PDEATHSIG), and
a small janitor process (started first) waits for both to go, kills what is
left after 10 s, removes the temp dir, and exits.
"""
import argparse
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from common import emit

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
EPMD = shutil.which("epmd") or "/usr/bin/epmd"
START_TIMEOUT = 60

CONF = """\
listeners.tcp = none
stomp.listeners.tcp = none
web_stomp.tcp.port = {port}
web_stomp.tcp.ip = 127.0.0.1
"""

# Runs in its own Python process, fed by a pipe only this wrapper writes to:
# lines "pid N" (processes to outlive) and "dir PATH" (to remove). At the
# pipe's end (this wrapper exited, however), it waits for those processes,
# SIGKILLs any left after 10 s, removes the directory and exits.
JANITOR = r"""
import os, shutil, signal, sys, time
pids, dirs = [], []
for line in sys.stdin:
    kind, _, arg = line.rstrip("\n").partition(" ")
    (pids.append(int(arg)) if kind == "pid" else dirs.append(arg))
def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False
deadline = time.monotonic() + 10
while any(map(alive, pids)) and time.monotonic() < deadline:
    time.sleep(0.1)
for pid in filter(alive, pids):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
for d in dirs:
    shutil.rmtree(d, ignore_errors=True)
"""


def free_ports(n):
    """n distinct free loopback ports (held together so none repeats)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def pdeathsig(sig):
    """For preexec_fn: the child gets `sig` when this wrapper('s thread) dies."""
    def set_it():
        ctypes.CDLL(None, use_errno=True).prctl(1, sig)  # PR_SET_PDEATHSIG
    return set_it


def accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def stop(proc, grace):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def fail(message, log):
    emit(event="error", message=message)
    if log is not None:
        log.seek(0)
        tail = log.read().decode("utf-8", "replace").splitlines()[-60:]
        sys.stderr.write("".join(line + "\n" for line in tail))
    print(f"py_rabbitmq: {message}", file=sys.stderr)


def bindable(port):
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False


def start_epmd(port, out, deadline):
    """The node's own epmd, in the foreground, so it goes with us."""
    epmd = subprocess.Popen([EPMD, "-port", str(port), "-address", "127.0.0.1"],
                            stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                            preexec_fn=pdeathsig(signal.SIGKILL))
    while not accepts(port):
        if epmd.poll() is not None or time.monotonic() > deadline:
            stop(epmd, 1)
            return epmd, f"epmd did not listen on port {port} (exit {epmd.returncode})"
        time.sleep(0.02)
    return epmd, None


def start_broker(base, port, dist_port, epmd_port, out):
    os.makedirs(base)
    home = os.path.join(base, "home")
    os.mkdir(home, 0o700)
    with open(os.open(os.path.join(home, ".erlang.cookie"),
                      os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400), "w") as f:
        f.write(secrets.token_hex(16).upper())
    conf = os.path.join(base, "rabbitmq.conf")
    with open(conf, "w") as f:
        f.write(CONF.format(port=port))
    with open(os.path.join(base, "enabled_plugins"), "w") as f:
        f.write("[rabbitmq_web_stomp].\n")
    env = dict(os.environ)
    env.pop("RABBITMQ_SERVER_START_ARGS", None)
    env.update(
        HOME=home,
        ERL_EPMD_PORT=str(epmd_port),
        ERL_CRASH_DUMP_SECONDS="0",
        RABBITMQ_NODENAME=f"wsprobe{os.getpid()}@localhost",
        RABBITMQ_CONF_ENV_FILE="/dev/null",
        RABBITMQ_CONFIG_FILE=conf,
        RABBITMQ_ADVANCED_CONFIG_FILE=os.path.join(base, "advanced.config"),
        RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(base, "enabled_plugins"),
        RABBITMQ_MNESIA_BASE=os.path.join(base, "mnesia"),
        RABBITMQ_LOG_BASE=os.path.join(base, "log"),
        RABBITMQ_LOGS="-",
        RABBITMQ_PID_FILE=os.path.join(base, "pid"),
        RABBITMQ_DIST_PORT=str(dist_port),
        # The script then execs erl, so our child is the broker (beam.smp)
        # itself rather than a shell running it in the background.
        RABBITMQ_ALLOW_INPUT="1",
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-noinput -start_epmd false",
    )
    return subprocess.Popen([SERVER], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                            env=env, cwd=base, preexec_fn=pdeathsig(signal.SIGTERM))


def main(args):
    if not os.access(SERVER, os.X_OK):
        emit(event="error", message=f"{SERVER} not found (run scripts/setup-peers.sh as root)")
        sys.exit(1)
    janitor = subprocess.Popen([sys.executable, "-c", JANITOR], stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               text=True, start_new_session=True)

    def janitor_note(line):
        janitor.stdin.write(line + "\n")
        janitor.stdin.flush()

    tmp = tempfile.mkdtemp(prefix="wsprobe-rabbitmq-")
    janitor_note(f"dir {tmp}")
    log = None if args.verbose else tempfile.TemporaryFile()
    out = sys.stderr if args.verbose else log
    deadline = time.monotonic() + START_TIMEOUT
    procs = []

    def shutdown():
        for proc in reversed(procs):  # the broker(s) first, then epmd
            stop(proc, 5)
        shutil.rmtree(tmp, ignore_errors=True)
        janitor.stdin.close()

    for attempt in range(1, 4):
        epmd_port, = free_ports(1)
        epmd, error = start_epmd(epmd_port, out, deadline)
        procs.append(epmd)
        janitor_note(f"pid {epmd.pid}")
        if error is None:
            break
    else:
        shutdown()
        fail(error, log)
        sys.exit(1)

    # The ports are free when picked but only bound seconds later, so when the
    # broker fails and one of them is taken meanwhile, it tries again.
    for attempt in range(1, 4):
        port, dist_port = free_ports(2)
        proc = start_broker(os.path.join(tmp, str(attempt)), port, dist_port, epmd_port, out)
        procs.append(proc)
        janitor_note(f"pid {proc.pid}")
        while not accepts(port) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None and accepts(port):
            break
        why = (f"exited with {proc.returncode}" if proc.poll() is not None
               else f"timed out after {START_TIMEOUT} s")
        if proc.poll() is not None and not (bindable(port) and bindable(dist_port)) \
                and time.monotonic() < deadline:
            print(f"py_rabbitmq: port {port} or {dist_port} taken meanwhile; again",
                  file=sys.stderr)
            continue
        shutdown()
        fail(f"RabbitMQ did not listen on port {port} ({why})", log)
        sys.exit(1)
    emit(event="listening", url=f"ws://127.0.0.1:{port}/ws", pid=proc.pid)

    stopping = threading.Event()

    def watch_broker():
        code = proc.wait()
        if not stopping.is_set():
            emit(event="exited", code=code)

    threading.Thread(target=watch_broker, daemon=True).start()
    # The main thread (which started the broker: PR_SET_PDEATHSIG follows the
    # thread) waits for stdin's end, then stops everything.
    while sys.stdin.buffer.read1(65536):
        pass
    stopping.set()
    shutdown()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--verbose", action="store_true", help="the broker's log on stderr")
    main(ap.parse_args())
