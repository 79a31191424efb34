"""A row's id: the one function that decides which row an article is, across builds and releases.

Invariant: `make_id` is part of every published dataset's identity. The id is the first 16 hex
digits of sha256 over a key, and the key is, in this order of preference:
- `id:` + the front matter's id (guid, uuid), its edges stripped;
- `url:` + the front matter's URL: the fragment dropped, the scheme and host lower-cased,
  the rest as written (`_normalise_url`);
- `path:` + the file's path within the source root: backslashes to '/', the edge '/'s
  stripped, Unicode NFC (`normalise_path`).
Changing any of these (the prefixes, the order of preference, the front-matter keys read for
each in builder.transform.fields, the URL or path normalisation, the hash or the 16 digits) re-keys
every row: a row's id, its duplicate cluster, its split group and so its split all move, and
the cache of every earlier build is stale. That is a major version of every dataset built
with it. Never from iteration order or Python's `hash()`: two machines and two runs agree.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata

_URL = re.compile(r"^([A-Za-z][\w+.-]*://)([^/]*)(.*)$")


def make_id(rel_path: str, *, ident: str | None = None, url: str | None = None) -> str:
    """Stable id: from the front matter's id, else its URL, else the normalised path."""
    if ident:
        key = "id:" + ident.strip()
    elif url:
        key = "url:" + _normalise_url(url)
    else:
        key = "path:" + normalise_path(rel_path)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def normalise_path(rel_path: str) -> str:
    """A path within the source root as ids and feeds read it: '/'-separated, no edge '/', NFC."""
    return unicodedata.normalize("NFC", rel_path.replace("\\", "/").strip("/"))


def _normalise_url(url: str) -> str:
    url = url.strip().split("#", 1)[0]
    m = _URL.match(url)
    return (m.group(1).lower() + m.group(2).lower() + m.group(3)) if m else url
