"""A damaged dataset is never passed on: `corpus verify` names the first shard that differs from
what the dataset lists (croissant.json's sha256, splits.json's counts, the shards themselves),
and `corpus split` and `corpus publish` refuse such a folder before writing anything. Real
files, real builds, the CLI as users run it."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from builder.cli import main
from builder.pipeline import build

ROOT = Path(__file__).resolve().parents[1]
TRAIN = "data/train-00000-of-00001.parquet"
TEST = "data/test-00000-of-00001.parquet"
REPO = "corpus-org/news"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("integrity") / "out"
    build(None, out, progress=False)  # the bundled sample corpus: a train and a test shard
    return out


@pytest.fixture
def copy(built, tmp_path) -> Path:
    return Path(shutil.copytree(built, tmp_path / "ds"))


def run(argv, capsys) -> tuple[int, list[str]]:
    """Exit code and stderr lines of `corpus ARGV`; never a traceback."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.splitlines()


def overwrite_mid_shard(path: Path, data: bytes = b"X" * 64) -> None:
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    raw[middle:middle + len(data)] = data
    path.write_bytes(bytes(raw))


def test_an_intact_dataset_verifies(copy, capsys):
    code, err = run(["verify", copy], capsys)
    assert code == 0 and err == ["verify: OK, every shard is intact and every row is in the split its spec gives"]
    proc = subprocess.run([sys.executable, "-m", "splits", "verify", str(copy)], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr


def test_64_bytes_overwritten_mid_shard_fail_verify_naming_the_shard(copy, capsys):
    overwrite_mid_shard(copy / TRAIN)
    code, err = run(["verify", copy], capsys)
    assert code == 1 and len(err) == 1
    assert err[0].startswith(f"verify: FAILED: {str(copy / TRAIN)!r} is damaged")
    assert err[0].endswith("rebuild the dataset or download it again")
    # python -m splits verify (standard library and pyarrow) makes the same check.
    proc = subprocess.run([sys.executable, "-m", "splits", "verify", str(copy)], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 1 and f"{str(copy / TRAIN)!r} is damaged" in proc.stderr


def test_a_shard_rewritten_as_valid_parquet_fails_on_its_sha256(copy, capsys):
    pq.write_table(pq.read_table(copy / TRAIN), copy / TRAIN, compression="snappy")  # same rows, other bytes
    code, err = run(["verify", copy], capsys)
    assert code == 1 and len(err) == 1
    assert f"{str(copy / TRAIN)!r} is damaged: its sha256 is " in err[0] and "croissant.json lists" in err[0]


def test_split_refuses_a_damaged_dataset_and_writes_nothing(copy, tmp_path, capsys):
    overwrite_mid_shard(copy / TRAIN)
    code, err = run(["split", copy, "-o", tmp_path / "x"], capsys)
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"corpus: error: {str(copy / TRAIN)!r} is damaged")
    assert not (tmp_path / "x").exists()
    before = (copy / TRAIN).read_bytes()
    code, err = run(["split", copy, "--salt", "other"], capsys)  # in place: the folder is left as it was
    assert code == 2 and (copy / TRAIN).read_bytes() == before


def test_publish_refuses_a_damaged_dataset_and_commits_nothing(copy, tmp_path, capsys):
    overwrite_mid_shard(copy / TEST)
    registry = tmp_path / "registry"
    code, err = run(["publish", copy, "--to", registry, "--version", "1.0.0"], capsys)
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"corpus: error: {str(copy / TEST)!r} is damaged")
    assert not registry.exists()


def test_a_zeroed_shard_is_named_as_damaged_not_as_a_duplicate_id(copy, tmp_path, capsys):
    (copy / TRAIN).write_bytes(bytes((copy / TRAIN).stat().st_size))
    for argv in (["verify", copy], ["split", copy, "-o", tmp_path / "x"]):
        code, err = run(argv, capsys)
        assert code in (1, 2) and len(err) == 1
        assert f"{str(copy / TRAIN)!r} is damaged: it is not readable Parquet" in err[0]
        assert "duplicate" not in err[0]


def test_a_truncated_shard_without_croissant_json_is_still_named(copy, tmp_path, capsys):
    (copy / "croissant.json").unlink()
    raw = (copy / TRAIN).read_bytes()
    (copy / TRAIN).write_bytes(raw[:len(raw) // 2])
    code, err = run(["split", copy, "-o", tmp_path / "x"], capsys)
    assert code == 2 and len(err) == 1 and f"{str(copy / TRAIN)!r} is damaged" in err[0]


def test_a_missing_shard_is_named(copy, tmp_path, capsys):
    (copy / TEST).unlink()
    code, err = run(["verify", copy], capsys)
    assert code == 1 and err == [f"verify: FAILED: {str(copy / TEST)!r} is missing, though croissant.json lists "
                                 "it: rebuild the dataset or download it again"]
    code, err = run(["split", copy, "-o", tmp_path / "x"], capsys)
    assert code == 2 and f"{str(copy / TEST)!r} is missing" in err[0] and not (tmp_path / "x").exists()


def test_an_extra_shard_is_named(copy, capsys):
    extra = copy / "data" / "test-00001-of-00002.parquet"
    shutil.copyfile(copy / TEST, extra)
    code, err = run(["verify", copy], capsys)
    assert code == 1 and len(err) == 1 and f"{str(extra)!r} is not listed in croissant.json" in err[0]


def test_a_damaged_croissant_json_is_named(copy, capsys):
    (copy / "croissant.json").write_bytes(b"\0" * 64)
    code, err = run(["verify", copy], capsys)
    assert code == 1 and len(err) == 1 and f"{str(copy / 'croissant.json')!r} is damaged" in err[0]


def test_split_counts_that_differ_from_splits_json_are_refused(copy, tmp_path, capsys):
    (copy / "croissant.json").unlink()  # no hashes to compare: the counts still catch a lost row
    pq.write_table(pq.read_table(copy / TRAIN).slice(1), copy / TRAIN)
    counts = json.loads((copy / "splits.json").read_text())["counts"]
    code, err = run(["split", copy, "-o", tmp_path / "x"], capsys)
    assert code == 2 and len(err) == 1
    assert (f"the 'train' shards ({str(copy) + '/data/train-*.parquet'!r}) hold {counts['train'] - 1:,} rows, "
            f"splits.json counts {counts['train']}") in err[0]
    code, err = run(["verify", copy], capsys)  # verify recomputes the splits: the count differs there too
    assert code == 1 and any("rows recomputed" in line for line in err)


def test_a_folder_of_parquet_alone_still_splits(copy, tmp_path, capsys):
    bare = tmp_path / "bare"
    shutil.copytree(copy / "data", bare / "data")  # downloaded Parquet: no croissant.json, no splits.json
    code, err = run(["split", bare, "-o", tmp_path / "x"], capsys)
    assert code == 0, err
    code, err = run(["verify", tmp_path / "x"], capsys)
    assert code == 0, err


def test_split_from_the_hub_checks_the_downloaded_folder(hub, copy, tmp_path, capsys):
    from huggingface_hub import HfApi

    from builder.publish import publish

    publish(copy, version="1.0.0", repo_id=REPO)
    damaged = tmp_path / "damaged.parquet"
    shutil.copyfile(copy / TRAIN, damaged)
    overwrite_mid_shard(damaged)
    HfApi().upload_file(path_or_fileobj=str(damaged), path_in_repo=TRAIN, repo_id=REPO, repo_type="dataset")
    capsys.readouterr()  # the uploads' progress bars
    code, err = run(["split", f"hf://datasets/{REPO}", "-o", tmp_path / "x"], capsys)
    err = [line for line in err if "Fetching" not in line and line.strip()]  # the download's progress bar
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"corpus: error: {'hf://datasets/' + REPO + '/' + TRAIN!r} is damaged")
    assert not (tmp_path / "x").exists()
