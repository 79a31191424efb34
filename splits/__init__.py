"""Splits that never leak, stay put as the corpus grows, and can be regenerated from the published data.

The core needs only the standard library; reading Parquet (`verify_published`, `find_damage`) and
`regenerate` import pyarrow / datasets when called.

    from splits import SplitSpec, assign
    spec = SplitSpec.from_sizes(test_size=0.1, validation_size=0.1)
    result = assign({"id": ids, "content_sha256": hashes}, spec)
    result.split  # ["train", "test", ...], one per row
"""
from .assign import Assignment, assign
from .audit import audit, copy_leaks, format_audit
from .errors import PublishedDataError, SpecError, SplitError
from .hashing import NUM_BUCKETS, bucket_edges, bucket_of
from .integrity import damaged_file, find_damage, miscounted_split, verify_published
from .manifest import FORMAT, build_manifest, id_list_sha256, manifest_spec, verify
from .published import MANIFEST_NAME, read_manifest, read_published, write_manifest
from .regenerate import regenerate
from .spec import SplitSpec
from .stream import StreamingSplit

__all__ = [
    "FORMAT", "MANIFEST_NAME", "NUM_BUCKETS",
    "Assignment", "PublishedDataError", "SpecError", "SplitError", "SplitSpec", "StreamingSplit",
    "assign", "audit", "copy_leaks", "bucket_edges", "bucket_of", "build_manifest", "damaged_file", "find_damage",
    "format_audit", "id_list_sha256", "manifest_spec", "miscounted_split", "read_manifest", "read_published",
    "regenerate", "verify", "verify_published", "write_manifest",
]
