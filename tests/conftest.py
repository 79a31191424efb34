import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

SHARED_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
# Builds use the user's cache folder by default: the tests' own, never the user's.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="corpus-tests-cache-")
atexit.register(shutil.rmtree, os.environ["XDG_CACHE_HOME"], True)


def write_corpus(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return root


def article(title: str, body: str, date: str = "Fri, 25 Mar 2022 02:14:53 GMT", feed=("金融", "新浪财经", "国内")) -> str:
    cats = "".join(f"\n - {c}" for c in feed)
    return (f"\n---\ntitle: '{title}'\ncategories: {cats}\nauthor: {feed[1]}\ncomments: false\ndate: {date}\n"
            f"---\n\n<div>   \n{body}\n</div>\n")


def distinct_text(seed: int, n_chars: int = 120) -> str:
    """Chinese-looking text that shares no 5-character run with another seed's: rows that
    duplicate detection must leave alone."""
    import random

    rng = random.Random(seed)
    chars = [chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(n_chars)]
    for i in range(24, n_chars, 25):
        chars[i] = "。"
    return "".join(chars)


@pytest.fixture
def shared_corpus() -> Path:
    if not SHARED_CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present (a user's clone has none)")
    return SHARED_CORPUS
from hub_fixture import hub  # noqa: F401,E402


def assert_same_files(a, b):
    """The two folders hold the same files, byte for byte (the assertion names the first that
    differs)."""
    names = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
