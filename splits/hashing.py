"""Group key -> bucket in 0..9999: the one function that decides where a row's split lies.

Invariant: `bucket_of` is part of every published dataset's identity. Changing the
hash (sha256), the salt, the separator, the key normalisation (Unicode NFC), the
byte-to-bucket mapping (first 8 digest bytes, big-endian, modulo 10,000) or the bucket
ranges (`bucket_edges`) moves rows between splits, so it is a major version of every
dataset built with it.
Never use Python's `hash()` here: it is salted per process.
"""
from __future__ import annotations

import hashlib
import math
import unicodedata
from collections.abc import Sequence

NUM_BUCKETS = 10_000

# The salt may not contain NUL (SplitSpec checks), so salt + NUL + key is unambiguous.
SEPARATOR = "\x00"


def bucket_of(key: str, salt: str) -> int:
    """The bucket (0..9999) of `key` under `salt`: sha256 of salt, NUL and the NFC-normalised key."""
    return buckets_of([key], salt)[0]


def buckets_of(keys: Sequence[str], salt: str) -> list[int]:
    """[bucket_of(key, salt) for key in keys], written out inline: this is assign's hot loop.

    Hashing every key, repeated ones included, is faster than de-duplicating them through a dict.
    """
    if SEPARATOR in salt:
        raise ValueError(f"salt {salt!r} contains NUL, the separator between salt and key; remove it")
    prefix = (salt + SEPARATOR).encode("utf-8")
    sha256, normalize, from_bytes = hashlib.sha256, unicodedata.normalize, int.from_bytes
    try:
        return [
            from_bytes(
                # ASCII is already NFC: skipping normalize() is the fast path for hex keys.
                sha256(prefix + (key if key.isascii() else normalize("NFC", key)).encode("utf-8")).digest()[:8], "big"
            ) % NUM_BUCKETS
            for key in keys
        ]
    except AttributeError:
        bad = next(key for key in keys if not isinstance(key, str))
        raise TypeError(f"keys must be strings, found {bad!r}") from None


def bucket_edges(ratios) -> list[int]:
    """End (exclusive) of each split's bucket range: split i holds buckets edges[i-1] <= b < edges[i].

    Ranges are cumulative in the order given, rounded half up to whole buckets, so changing
    one split's ratio only moves rows at the edges it shifts (a `test` kept last stays put
    when `validation` is carved out of `train`).
    """
    edges, total = [], 0.0
    for ratio in ratios:
        total += ratio
        edges.append(min(NUM_BUCKETS, math.floor(total * NUM_BUCKETS + 0.5)))
    edges[-1] = NUM_BUCKETS  # ratios sum to 1 within 1e-9: the last split ends at the last bucket
    return edges
