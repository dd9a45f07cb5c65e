"""Deterministic bulk data for relay tests, and its checksums."""

import hashlib
import random
import struct

from tg_env import CHUNK

_BASE = random.Random(0x7475).randbytes(CHUNK)


def stream_chunks(total):
    """total bytes of data that never repeats a chunk (counter + fixed noise)."""
    i = sent = 0
    while sent < total:
        n = min(CHUNK, total - sent)
        block = struct.pack(">Q", i) + _BASE[8:n] if n > 8 else struct.pack(">Q", i)[:n]
        yield block
        sent += n
        i += 1


def stream_digest(total):
    h = hashlib.sha256()
    for c in stream_chunks(total):
        h.update(c)
    return h.hexdigest()


def sha256(data):
    return hashlib.sha256(data).hexdigest()
