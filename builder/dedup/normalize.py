"""Normalisation: the text exact duplicates are compared on and shingled, and its content hash.

INVARIANT (NORMALIZATION_VERSION): the content hash and the shingles both read `normalize_text`;
changing it moves rows between clusters, so it is a major version.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

NORMALIZATION_VERSION = 1

# Every character `str.isspace()` accepts, plus the invisible ones that editors leave behind.
_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
               "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
# CJK punctuation that has a plain ASCII twin outside U+FF01-FF5E (PUNCT_SWAP-style edits:
# '。' vs '.', curly vs straight quotes). Marks with no ASCII twin (、《》「」…) stay as they are.
_PUNCT_FOLD = {"\u3002": ".", "\uff61": ".", "\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"}
_REMOVE = 0xFFFFFFFF  # marker in the lookup table: drop the character


@lru_cache(maxsize=1)
def _fold_table() -> np.ndarray:
    """Code point -> normalised code point (or _REMOVE), for all of Unicode: one gather per text."""
    lut = np.arange(0x110000, dtype=np.uint32)
    lut[0xFF01:0xFF5F] -= 0xFEE0  # full-width ASCII -> ASCII; NOT NFKC (see FORMATS.md)
    for ch, to in _PUNCT_FOLD.items():
        lut[ord(ch)] = ord(to)
    for ch in _WHITESPACE + _INVISIBLE:
        lut[ord(ch)] = _REMOVE
    return lut


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _normalized_codepoints(cps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(normalised code points, keep mask over the input)."""
    mapped = _fold_table()[cps]
    keep = mapped != _REMOVE
    return mapped[keep], keep


def normalize_text(text: str) -> str:
    """The text exact duplicates are compared on: whitespace removed, punctuation width folded.

    Folds only full-width ASCII (U+FF01-FF5E, e.g. '，' -> ',', 'Ａ' -> 'A') and the few CJK
    marks with an ASCII twin ('。' -> '.', curly quotes -> straight), and removes every
    whitespace and zero-width character (U+3000 included): Chinese needs no spaces, and
    re-flowed or re-indented copies are the same article. Not NFKC: that would also turn
    '①' into '1' and 'm²' into 'm2'. Case is kept.
    """
    if not text:
        return ""
    return _normalized_codepoints(_codepoints(text))[0].tobytes().decode("utf-32-le", "surrogatepass")


def content_sha256(text: str) -> str:
    """sha256 (hex) of the UTF-8 of `normalize_text(text)`: the `content_sha256` column."""
    return hashlib.sha256(normalize_text(text).encode("utf-8", "surrogatepass")).hexdigest()


def _content_hashes(cps: np.ndarray, ends: np.ndarray) -> list[str]:
    """`content_sha256` of each normalised text in `cps` (normalised code points, texts back to
    back, ending at `ends`): the batched form for minhash.hash_and_sign, the same digests."""
    joined = cps.tobytes().decode("utf-32-le", "surrogatepass")
    out, start = [], 0
    for end in ends.tolist():
        out.append(hashlib.sha256(joined[start:end].encode("utf-8", "surrogatepass")).hexdigest())
        start = end
    return out
