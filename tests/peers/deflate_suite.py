"""What the compression test peers send (tests/deflate.rs), and how they report it.

MESSAGES is the suite, in sending order, as (name, message) pairs:
  empty        "" (compresses to a lone empty stored block: an edge of RFC 7692)
  text         a short text
  unicode      text with multi-byte UTF-8
  binary       every byte value, 4 times over
  repeat0..19  the same JSON text 20 times (context takeover shrinks the later ones)
  big-text     1 MiB of text that repeats every 1500 bytes: a peer that compresses
               with a window larger than it agreed (e.g. server_max_window_bits=10,
               1 KiB) leaves back-references the other side cannot follow
  big-binary   256 KiB of seeded random bytes (incompressible: stored blocks)
A peer checks each echo against what it sent and prints
{"event":"echo","name":…,"ok":true|false,"len":N} (with what came back when not ok).
"""
import random

from common import emit

MiB = 1024 * 1024
REPEATS = 20
REPEATED = '{"op":"subscribe","channel":"ticker.BTC-USD","id":42,"depth":"full"}'


def _messages():
    rnd = random.Random(7692)
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
    period = "".join(rnd.choice(letters) for _ in range(1500))
    big_text = (period * (MiB // len(period) + 1))[:MiB]
    big_binary = rnd.randbytes(MiB // 4)
    msgs = [
        ("empty", ""),
        ("text", "hello deflate"),
        ("unicode", "wörld ✓ ünïcödé 🚀"),
        ("binary", bytes(range(256)) * 4),
    ]
    msgs += [(f"repeat{i}", REPEATED) for i in range(REPEATS)]
    msgs += [("big-text", big_text), ("big-binary", big_binary)]
    return msgs


MESSAGES = _messages()


def report(name, sent, got):
    """Prints how the echo of `sent` compares with what came back (`got`)."""
    if got == sent:
        emit(event="echo", name=name, ok=True, len=len(sent))
    else:
        emit(event="echo", name=name, ok=False, len=len(sent),
             got_type=type(got).__name__, got_len=len(got) if got is not None else None,
             got_head=repr(got[:80]) if got is not None else None)
