"""corpus split / verify: re-splitting from Parquet alone, and the growth guarantees."""
import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from builder.pipeline import build
from builder.resplit import resplit
from conftest import article, distinct_text, write_corpus
from splits import SplitSpec

N = 300


def corpus_files(n=N):
    return {f"source/_posts/金融/新浪财经/国内/{i:04d}.md":
            article(f"标题{i}", f"<p>{distinct_text(i)}</p>", date=f"2022-{1 + i % 12:02d}-{1 + i % 28:02d} 08:00:00")
            for i in range(n)}


def split_ids(out):
    ids = {}
    for path in sorted((out / "data").glob("*.parquet")):
        split = path.name.split("-", 1)[0]
        for i in pq.read_table(path, columns=["id"]).column("id").to_pylist():
            ids[i] = split
    return ids


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("resplit")
    src = write_corpus(root / "src", corpus_files())
    build(src, root / "out", progress=False, workers=1)
    return root, src


def test_resplit_equals_building_with_that_spec(built, tmp_path):
    root, src = built
    spec = SplitSpec.from_sizes(test_size=0.2, validation_size=0.1, strategy="time", embargo_days=2,
                                group="dup_cluster")
    resplit(root / "out", tmp_path / "resplit", spec=spec)
    build(src, tmp_path / "direct", split_spec=spec, progress=False, workers=1)
    assert split_ids(tmp_path / "resplit") == split_ids(tmp_path / "direct")
    for split in ("train", "validation", "test"):
        a = pq.read_table(tmp_path / "resplit" / "data" / f"{split}-00000-of-00001.parquet")
        b = pq.read_table(tmp_path / "direct" / "data" / f"{split}-00000-of-00001.parquet")
        assert a.equals(b)
    manifest = json.loads((tmp_path / "resplit" / "splits.json").read_text())
    assert manifest["spec"]["strategy"] == "time" and manifest["audit"]["ok"]
    assert "validation" in (tmp_path / "resplit" / "README.md").read_text()


def test_time_split_has_no_test_before_train(built, tmp_path):
    root, _ = built
    spec = SplitSpec.from_sizes(test_size=0.2, strategy="time", embargo_days=3, group="dup_cluster")
    resplit(root / "out", tmp_path / "t", spec=spec)
    dates = {}
    for path in (tmp_path / "t" / "data").glob("*.parquet"):
        split = path.name.split("-", 1)[0]
        dates[split] = pq.read_table(path, columns=["date"]).column("date").to_pylist()
    from datetime import timedelta

    assert min(dates["test"]) > max(dates["train"]) + timedelta(days=3)


def test_in_place_resplit_then_verify(built, tmp_path):
    root, _ = built
    import shutil

    shutil.copytree(root / "out", tmp_path / "copy")
    resplit(tmp_path / "copy", spec=SplitSpec.from_sizes(test_size=0.3, salt="other", group="dup_cluster"))
    counts = json.loads((tmp_path / "copy" / "splits.json").read_text())["counts"]
    assert counts["test"] > 0.2 * N
    proc = subprocess.run([sys.executable, "-m", "builder.cli", "verify", str(tmp_path / "copy")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_verify_names_a_moved_row(built, tmp_path):
    root, _ = built
    import shutil

    import pyarrow as pa

    shutil.copytree(root / "out", tmp_path / "bad")
    train = tmp_path / "bad" / "data" / "train-00000-of-00001.parquet"
    test = tmp_path / "bad" / "data" / "test-00000-of-00001.parquet"
    t_train, t_test = pq.read_table(train), pq.read_table(test)
    moved = t_train.slice(0, 1)
    pq.write_table(t_train.slice(1), train)
    pq.write_table(pa.concat_tables([t_test, moved]), test)
    (tmp_path / "bad" / "croissant.json").unlink()  # else the shards' sha256 differ from it, and verify stops there
    proc = subprocess.run([sys.executable, "-m", "builder.cli", "verify", str(tmp_path / "bad")],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and moved.column("id")[0].as_py() in proc.stderr


def test_growth_never_moves_a_row(tmp_path):
    files = corpus_files(400)
    subset = {k: v for i, (k, v) in enumerate(files.items()) if i % 10 != 3}  # 90 %
    build(write_corpus(tmp_path / "small", subset), tmp_path / "o1", progress=False, workers=1)
    build(write_corpus(tmp_path / "full", files), tmp_path / "o2", progress=False, workers=1)
    before, after = split_ids(tmp_path / "o1"), split_ids(tmp_path / "o2")
    assert before and all(after[i] == s for i, s in before.items())
    assert len(after) == 400


def test_split_cli_on_missing_folder(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "builder.cli", "split", str(tmp_path / "nope")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr
