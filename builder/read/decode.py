"""Raw bytes -> text: detect the encoding (never assume it) and normalise line endings.

Order of evidence: a BOM is certain; strict UTF-8 is almost certain (random non-UTF-8
bytes rarely form valid UTF-8); otherwise the Chinese legacy encodings are tried and the
most plausible decoding wins, with charset-normalizer as the judge when several decode.
"""
from __future__ import annotations

import codecs
import re

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),  # before UTF-16: LE BOMs share a prefix
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
# Signatures of binary formats that get saved among posts with a .md name.
_MAGIC = (b"\x89PNG", b"\x1f\x8b", b"PK\x03\x04", b"\xff\xd8\xff", b"GIF8", b"%PDF", b"\x00\x00\x00\x18ftyp",
          b"\x00\x00\x00\x1cftyp", b"\x00\x00\x00 ftyp", b"RIFF", b"\x7fELF")
_LEGACY = ("gb18030", "big5")
_NEWLINES = re.compile(r"\r\n?")
# Characters that never occur in text: C0 controls other than tab/newline/CR/form feed.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class DecodeFailure(Exception):
    """Bytes that are not text; `reason` is a reject code from errors.REJECT_REASONS."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def decode(data: bytes) -> tuple[str, str, bool]:
    """Return (text with '\\n' line endings, encoding name, low_confidence).

    Raises DecodeFailure('empty_file' | 'binary' | 'undecodable').
    """
    if not data.strip():
        raise DecodeFailure("empty_file", "the file is empty")
    for bom, name in _BOMS:
        if data.startswith(bom):
            try:
                return _normalise(data.decode(name)), name, False
            except UnicodeDecodeError as exc:
                raise DecodeFailure("undecodable", f"starts with a {name} BOM but is not {name}: {exc.reason}")
    if data.startswith(_MAGIC) or b"\x00" in data[:8192]:
        raise DecodeFailure("binary", "binary content (a binary signature or NUL bytes), not text")
    try:
        return _normalise(data.decode("utf-8")), "utf-8", False
    except UnicodeDecodeError:
        pass
    text, name, low = _decode_legacy(data)
    if _CONTROL.search(text[:8192]) and len(_CONTROL.findall(text[:8192])) > 8:
        raise DecodeFailure("binary", f"decodes as {name} only into control characters: binary, not text")
    return _normalise(text), name, low


def _decode_legacy(data: bytes) -> tuple[str, str, bool]:
    candidates = {}
    for name in _LEGACY:
        try:
            candidates[name] = data.decode(name)
        except UnicodeDecodeError:
            continue
    if len(candidates) == 1:
        name, text = next(iter(candidates.items()))
        return text, name, False
    if len(candidates) > 1:
        return (*_judge(data, candidates), False)
    # Nothing decodes strictly: take the best guess with replacement characters, and say so.
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise DecodeFailure("undecodable", "no supported encoding decodes the file (tried UTF-8, GB18030, Big5)")
    name = best.encoding.replace("_", "-")
    return data.decode(best.encoding, errors="replace"), name, True


def _judge(data: bytes, candidates: dict[str, str]) -> tuple[str, str]:
    """Several legacy encodings decode the bytes (Big5 bytes are nearly always valid GB18030):
    charset-normalizer, limited to those candidates, judges which reading is language."""
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=list(candidates)).best()
    name = best.encoding.replace("_", "") if best is not None else "gb18030"
    name = name if name in candidates else "gb18030"
    return candidates[name], name


def _normalise(text: str) -> str:
    return _NEWLINES.sub("\n", text)
