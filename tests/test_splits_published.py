import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from builder.schema import ROW_SCHEMA
from splits import MANIFEST_NAME, SplitSpec, assign, build_manifest, verify_published, write_manifest

UTC = timezone.utc
ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ["id", "content_sha256", "split_group", "split_bucket", "date", "feed"]
SCHEMA = pa.schema([ROW_SCHEMA.field(name) for name in COLUMNS])  # the real column types, a subset of the row


def corpus(n=300):
    return {
        "id": [f"{i:016x}" for i in range(n)],
        "content_sha256": [f"{i - 1 if i % 10 == 9 else i:064x}" for i in range(n)],  # every 10th row repeats a text
        "date": [None if i % 29 == 0 else datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=11 * i) for i in range(n)],
        "feed": [f"feed{i % 4}" for i in range(n)],
    }


def publish(out: Path, columns, spec, shards=2):
    """Write OUT/data/{split}-{i:05d}-of-{n:05d}.parquet and OUT/splits.json as the build will."""
    result = assign(columns, spec)
    (out / "data").mkdir(parents=True)
    for name in spec.names:
        rows = [i for i, s in enumerate(result.split) if s == name]
        for k in range(shards):
            part = rows[k::shards]
            table = {c: [columns[c][i] for i in part] for c in ("id", "content_sha256", "date", "feed")}
            table["split_group"] = [result.group[i] for i in part]
            table["split_bucket"] = [result.bucket[i] for i in part]
            pq.write_table(pa.Table.from_pydict(table, schema=SCHEMA), out / "data" / f"{name}-{k:05d}-of-{shards:05d}.parquet")
    write_manifest(out, build_manifest(columns, result, spec))
    return result


def cli(out):
    return subprocess.run(
        [sys.executable, "-m", "splits", "verify", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "spec",
    [SplitSpec(stratify="feed"), SplitSpec.from_sizes(test_size=0.1, validation_size=0.1, strategy="time", embargo_days=3)],
)
def test_an_untouched_folder_verifies(tmp_path, spec):
    publish(tmp_path, corpus(), spec)
    assert json.loads((tmp_path / MANIFEST_NAME).read_text())["spec"] == spec.to_dict()
    assert verify_published(tmp_path) == []
    run = cli(tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("OK")


def test_a_row_moved_between_shards_fails_naming_its_id(tmp_path):
    publish(tmp_path, corpus(), SplitSpec())
    train = tmp_path / "data" / "train-00000-of-00002.parquet"
    test = tmp_path / "data" / "test-00000-of-00002.parquet"
    moved = pq.read_table(train).slice(0, 1)
    pq.write_table(pq.read_table(train).slice(1), train)
    pq.write_table(pa.concat_tables([pq.read_table(test), moved]), test)
    run = cli(tmp_path)
    assert run.returncode == 1
    moved_id = moved.column("id")[0].as_py()
    assert f"first ids: {moved_id} (published 'test', recomputed 'train')" in run.stderr


def test_a_missing_shard_is_reported(tmp_path):
    publish(tmp_path, corpus(), SplitSpec())
    (tmp_path / "data" / "test-00001-of-00002.parquet").unlink()
    problems = verify_published(tmp_path)
    assert problems[0] == "split 'test': shard(s) [1] of 2 are missing"


def test_bad_folders_exit_2_with_a_one_line_message(tmp_path):
    run = cli(tmp_path)
    assert run.returncode == 2
    assert run.stderr.startswith("error: no manifest at") and "Traceback" not in run.stderr
    publish(tmp_path / "out", corpus(), SplitSpec())
    (tmp_path / "out" / "data" / "stray.parquet").write_bytes(b"")
    run = cli(tmp_path / "out")
    assert run.returncode == 2 and "stray.parquet" in run.stderr


def test_cli_help_has_an_example():
    run = subprocess.run([sys.executable, "-m", "splits", "verify", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0 and "Example: python -m splits verify out/" in run.stdout


def test_importing_splits_pulls_in_no_heavy_dependency():
    code = "import sys, splits; print(sorted(m for m in ('numpy', 'pyarrow', 'datasets', 'pandas') if m in sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
