"""The build cache: the previous build's per-file results, so a rebuild redoes only what changed.

The per-file work is a pure function of (path within the source, file bytes, settings): a
result computed once for a file's content holds for as long as its path, its sha256, the
settings and the tool version are the same. A build with a cache folder keeps, per (source
folder, settings, tool version), what its reading pass produced:

- `files.arrow`: one entry per article file, in path order: the file's stat (size, mtime,
  ctime, inode), its sha256, and what it became: a row (its handle: partition and place) or a
  reject (reason and message), with its warnings;
- `parts/t*.arrow`: the build's partitions (builder.parts), moved here as the read tasks
  wrote them: the rows with their MinHash signatures. Every build writes all its rows (a read
  task copies a cached row into its own partition), so one build's files are the whole cache.

A rebuild walks the new file list and the old entries side by side (both in path order). A
file whose stat is unchanged is taken as it was, unread, if it was already TRUST_MARGIN_NS old
when it was hashed (git's rule against a file changed within the same clock tick); a file
whose stat changed is read and hashed, and taken as it was if its sha256 is the same; only
the others are processed. Rows taken are copied by the read tasks from the old partitions by
handle, as Arrow, without passing through Python.

The key of a cached build (`cache_key`) covers everything that shapes a row, so a result is
never served to a build that would compute it otherwise:
- the source folder's real path (the paths within it are in the entries);
- the settings (`BuildSettings.fingerprint`);
- the bytes of every rule file in use (`fingerprint.rules_digest`: the settings name only
  the rule folders, and a pattern edited in place changes rows);
- the code (`fingerprint.code_fingerprint`): the tool version, a digest of our own source
  files (an editable install changes code without changing its version), the Python version
  and the versions of the libraries whose output a row keeps;
- the cache FORMAT.

Only the last build of a (source, settings, rules, code) is kept: a cache the size of one
build, swapped in whole when a build succeeds; the builds of a source by other code or cache
formats, and those of the same settings with other rule files, are deleted then (never read
again). Those of other settings stay (a user may switch back), within a bound on the folder's
size (`max_bytes`, CORPUS_CACHE_MAX_BYTES): past it the least recently used builds are
evicted whole, never the one just installed nor one a running build holds. A build holds a
lock on the one it uses; a second build of the same source at the same time builds without
it. Deleting the folder is always safe; `clear_cache` deletes what no build holds.
"""

from __future__ import annotations

from .index import (FORMAT, INDEX_SCHEMA, TRUST_MARGIN_NS, Entry, IndexWriter,
                    Lookup, PreviousBuild, Stat, entry_at, index_table, reusable, stat_of, trusted)
from .store import (DEFAULT_MAX_BYTES, MAX_BYTES_ENV, BuildCache, CacheInfo, Cleared, Variant, cache_info,
                    cache_key, clear_cache, default_dir, max_bytes_setting)

__all__ = ["FORMAT", "INDEX_SCHEMA", "TRUST_MARGIN_NS", "Entry", "IndexWriter",
           "Lookup", "PreviousBuild", "Stat", "entry_at", "index_table", "reusable", "stat_of", "trusted",
           "DEFAULT_MAX_BYTES", "MAX_BYTES_ENV", "BuildCache", "CacheInfo", "Cleared", "Variant", "cache_info",
           "cache_key", "clear_cache", "default_dir", "max_bytes_setting"]
