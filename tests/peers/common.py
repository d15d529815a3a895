"""What the Python test peers share: their command line and their output."""
import argparse
import json
import sys

sys.stdout.reconfigure(encoding="utf-8")


def emit(**obj):
    """One JSON object per line, flushed at once (a test reads as it comes)."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def client_args(doc):
    """URL [--protocol P]... [--send TEXT]..."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("--protocol", action="append", default=[])
    ap.add_argument("--send", action="append", default=[])
    return ap.parse_args()
