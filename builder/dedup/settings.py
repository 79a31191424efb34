"""DedupSettings: how duplicates are found, checked at construction and recorded by a build."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..errors import ConfigError
from .lsh import optimal_bands
from .minhash import ALGORITHM
from .normalize import NORMALIZATION_VERSION


@dataclass(frozen=True)
class DedupSettings:
    """How duplicates are found; `to_dict()` is what a build records.

    threshold: estimated Jaccard similarity of shingle sets at or above which two texts are
      near duplicates. shingle_size: characters per shingle (after normalisation).
    num_perm: MinHash slots per signature (memory: 4 bytes each per distinct text).
    bands/rows: LSH banding; None derives them from threshold and num_perm (`optimal_bands`).
    seed: keys every hash; part of signature_key. near: False finds exact duplicates only.
    keep_duplicates: keep every row (flagged through dup_cluster) instead of dropping copies.
    containment_threshold: share of a shorter text's shingles found within one stretch of a
      longer one (contain.WINDOW times its length) at or above which it is a contained copy (a
      brief retelling part of an article; see dedup/contain.py); None turns the check off.
      0.7 keeps a reworded brief (the real LPR pair: 0.75) and, with the window and one story
      per brief, precision >= 0.99 on make_corpus mixes (bench/sweep_containment.py).
      min_contained_chars: the shorter text's least length (normalised characters) for it: a
      standard one-line sentence is not a copy.

    The defaults were measured with bench/score_dedup.py on make_corpus.py corpora: reposts
    with a paragraph or two changed and 3-10% of characters edited mostly keep a Jaccard
    similarity of 0.55-0.8 on 5-character shingles, unrelated articles stay below 0.45.
    Shorter shingles saturate on long texts (two unrelated multi-MB articles reached 0.7 on
    3-character shingles); longer ones lose the edited reposts.
    """

    threshold: float = 0.5
    shingle_size: int = 5
    num_perm: int = 128
    bands: int | None = None
    rows: int | None = None
    seed: int = 1
    near: bool = True
    keep_duplicates: bool = False
    containment_threshold: float | None = 0.7
    min_contained_chars: int = 50
    lsh_bands: tuple[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError(f"dedup threshold {self.threshold!r} must be in (0, 1]; 0.5 is a good start")
        if not 1 <= self.shingle_size <= 32:
            raise ConfigError(f"dedup shingle_size {self.shingle_size!r} must be 1-32 characters; try 5")
        if not 8 <= self.num_perm <= 4096:
            raise ConfigError(f"dedup num_perm {self.num_perm!r} must be 8-4096; try 128")
        if not 0 <= self.seed < 2 ** 63:
            raise ConfigError(f"dedup seed {self.seed!r} must be a non-negative 63-bit integer")
        if self.containment_threshold is not None and not 0.0 < self.containment_threshold <= 1.0:
            raise ConfigError(f"dedup containment_threshold {self.containment_threshold!r} must be in (0, 1]; "
                              "0.7 is the default")
        if not 1 <= self.min_contained_chars <= 1_000_000:
            raise ConfigError(f"dedup min_contained_chars {self.min_contained_chars!r} must be 1-1,000,000; try 50")
        if (self.bands is None) != (self.rows is None):
            raise ConfigError("set both dedup bands and rows, or neither (they are derived from the threshold)")
        if self.bands is None:
            lsh = optimal_bands(self.threshold, self.num_perm)
        elif self.bands < 1 or self.rows < 1 or self.bands * self.rows > self.num_perm:
            raise ConfigError(f"dedup bands*rows = {self.bands}*{self.rows} must be between 1 and "
                              f"num_perm={self.num_perm}")
        else:
            lsh = (self.bands, self.rows)
        object.__setattr__(self, "lsh_bands", lsh)

    def signature_key(self) -> str:
        """What a signature depends on (not threshold, bands, keep_duplicates), as recorded."""
        return (f"{ALGORITHM}-n{NORMALIZATION_VERSION}-k{self.shingle_size}-p{self.num_perm}"
                f"-s{self.seed}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("lsh_bands")
        d["bands"], d["rows"] = self.lsh_bands
        d.update(algorithm=ALGORITHM, normalization_version=NORMALIZATION_VERSION,
                 signature_key=self.signature_key(),
                 kept_member="earliest date, then longest text, then smallest id")
        return d
