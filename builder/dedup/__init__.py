"""Exact and near-duplicate detection: which rows repeat another, and which one of each group to keep.

normalize (the compared text, content_sha256) -> minhash (signatures) -> lsh (candidate pairs)
-> cluster (DedupIndex: verified pairs, union-find, the kept member); store keeps the per-row
state compact; settings holds DedupSettings. Pure: standard library and numpy only.
"""
from .cluster import NO_DATE, DedupArrays, DedupIndex, DupResult, date_key
from .lsh import optimal_bands
from . import contain
from .minhash import ALGORITHM, EMPTY, hash_and_sign, signature, signatures, similarity
from .normalize import NORMALIZATION_VERSION, content_sha256, normalize_text
from .settings import DedupSettings

__all__ = ["ALGORITHM", "EMPTY", "NORMALIZATION_VERSION", "NO_DATE", "DedupArrays", "DedupIndex", "DedupSettings",
           "DupResult", "content_sha256", "date_key", "hash_and_sign", "normalize_text", "optimal_bands", "signature",
           "signatures", "similarity"]
