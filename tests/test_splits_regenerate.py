from datetime import datetime

import pyarrow as pa
import pytest
from datasets import Dataset, DatasetDict, Features, load_dataset

from splits import SpecError, SplitSpec, assign, manifest_spec, read_manifest, regenerate
from test_splits_published import SCHEMA, corpus, publish


def dataset_dict(columns, names=("train", "test")):
    """A DatasetDict with the real column types, rows dealt round-robin into `names`."""
    result = assign(columns, SplitSpec())
    table = dict(columns, split_group=result.group, split_bucket=result.bucket)
    order = ["id", "content_sha256", "split_group", "split_bucket", "date", "feed"]
    parts = {}
    for k, name in enumerate(names):
        rows = range(k, len(columns["id"]), len(names))
        data = {c: [table[c][i] for i in rows] for c in order}
        parts[name] = Dataset(pa.Table.from_pydict(data, schema=SCHEMA)).cast(Features.from_arrow_schema(SCHEMA))
    return DatasetDict(parts)


def ids(dd):
    return {name: sorted(ds["id"]) for name, ds in dd.items()}


@pytest.mark.parametrize(
    "spec",
    [
        SplitSpec.from_sizes(test_size=0.2, validation_size=0.1, salt="new-salt"),
        SplitSpec(group=None, stratify="feed"),
        SplitSpec.from_sizes(test_size=0.1, validation_size=0.1, strategy="time", embargo_days=2),
    ],
)
def test_regenerate_reassigns_all_rows_into_the_spec_splits(spec):
    columns = corpus()
    dd = dataset_dict(columns, names=("a", "b", "c"))
    out = regenerate(dd, spec)
    assert list(out) == list(spec.names)
    expected = assign(columns, spec)
    assert ids(out) == expected.ids_by_split(columns["id"])
    # the stored split key and bucket now describe the new spec, with their types and places kept
    merged = {row_id: (g, b) for ds in out.values() for row_id, g, b in zip(ds["id"], ds["split_group"], ds["split_bucket"])}
    assert merged == {i: (g, b) for i, g, b, s in zip(columns["id"], expected.group, expected.bucket, expected.split) if s}
    assert out["train"].features == dd["a"].features
    assert out["train"].column_names == dd["a"].column_names


def test_regenerate_accepts_a_single_dataset_and_names_missing_columns():
    dd = dataset_dict(corpus())
    single = regenerate(dd["train"], SplitSpec())
    assert sum(len(ds) for ds in single.values()) == len(dd["train"])
    with pytest.raises(SpecError, match="'story'"):
        regenerate(dd, SplitSpec(group="story"))


def test_published_splits_come_back_exactly_through_load_dataset(tmp_path):
    spec = SplitSpec.from_sizes(test_size=0.1, validation_size=0.1, strategy="time", embargo_days=3)
    result = publish(tmp_path / "out", corpus(), spec)
    data = tmp_path / "out" / "data"
    loaded = load_dataset(
        "parquet",
        data_files={name: str(data / f"{name}-*.parquet") for name in spec.names},
        cache_dir=str(tmp_path / "cache"),
    )
    assert isinstance(loaded["test"][0]["date"], datetime)
    again = regenerate(loaded, manifest_spec(read_manifest(tmp_path / "out")))
    assert ids(again) == ids(loaded) == result.ids_by_split(corpus()["id"])
    # with the unpinned spec the quantile moves, because the dropped rows are not published
    assert ids(regenerate(loaded, spec)) != ids(loaded)
