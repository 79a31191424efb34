import json

import pytest

from splits import SpecError, SplitSpec


def test_defaults_are_the_documented_ones():
    spec = SplitSpec()
    assert spec.splits == (("train", 0.9), ("test", 0.1))
    assert (spec.strategy, spec.salt, spec.group) == ("hash", "corpus-builder/v1", "content_sha256")
    assert (spec.stratify, spec.time_column, spec.cutoff, spec.embargo_days) == (None, "date", None, 0)


@pytest.mark.parametrize(
    "kwargs, quoted",
    [
        ({"splits": (("train", 0.9), ("test", 0.2))}, "1.1"),
        ({"splits": (("train", 1.1), ("test", -0.1))}, "-0.1"),
        ({"splits": (("train", 1.0), ("test", 0.0))}, "0.0"),
        ({"splits": (("train", 0.5), ("train", 0.5))}, "'train'"),
        ({"splits": (("", 1.0),)}, "''"),
        ({"splits": (("dev-set", 1.0),)}, "'dev-set'"),
        ({"splits": (("train", "0.9"), ("test", 0.1))}, "'0.9'"),
        ({"splits": (("train", 0.99999), ("test", 0.00001))}, "1e-05"),
        ({"splits": ()}, "empty"),
        ({"strategy": "random"}, "'random'"),
        ({"salt": "a\x00b"}, "'a\\x00b'"),
        ({"group": ""}, "''"),
        ({"embargo_days": -1}, "-1"),
        ({"embargo_days": float("nan")}, "nan"),
        ({"cutoff": "2024-01-01"}, "strategy='time'"),
        ({"strategy": "time", "cutoff": "yesterday"}, "'yesterday'"),
        ({"strategy": "time", "splits": (("all", 1.0),)}, "['all']"),
        ({"strategy": "time", "splits": (("a", 0.5), ("b", 0.3), ("c", 0.2)), "cutoff": ("2024-02-01",) * 3}, "3 values"),
        ({"strategy": "time", "splits": (("a", 0.5), ("b", 0.3), ("c", 0.2)), "cutoff": ("2024-02-01", "2024-01-01")}, "ascending"),
    ],
)
def test_a_bad_value_fails_at_construction_and_is_named(kwargs, quoted):
    with pytest.raises(ValueError) as err:
        SplitSpec(**kwargs)
    assert isinstance(err.value, SpecError)
    assert quoted in str(err.value)


def test_ratios_summing_to_one_within_float_error_are_accepted():
    spec = SplitSpec(splits=(("a", 0.7), ("b", 0.2), ("c", 0.1)))
    assert spec.ratios == (0.7, 0.2, 0.1)


@pytest.mark.parametrize(
    "spec",
    [
        SplitSpec(),
        SplitSpec(splits=[["train", 0.8], ["validation", 0.1], ["test", 0.1]], group=None, stratify="feed", salt="v2"),
        SplitSpec(strategy="time", cutoff="2024-06-01", embargo_days=2.5),
        SplitSpec(strategy="time", splits=(("a", 0.8), ("b", 0.1), ("c", 0.1)), cutoff=["2024-05-01", "2024-06-01T12:00:00+00:00"]),
    ],
)
def test_to_dict_is_json_safe_and_round_trips(spec):
    d = json.loads(json.dumps(spec.to_dict()))
    assert SplitSpec.from_dict(d) == spec
    assert SplitSpec.from_dict(d).to_dict() == spec.to_dict()


def test_lists_and_tuples_give_equal_specs():
    assert SplitSpec(splits=[["train", 0.9], ["test", 0.1]]) == SplitSpec()
    assert hash(SplitSpec(splits=[["train", 0.9], ["test", 0.1]])) == hash(SplitSpec())


def test_from_dict_accepts_a_table_of_ratios_in_order():
    spec = SplitSpec.from_dict({"splits": {"train": 0.8, "validation": 0.1, "test": 0.1}})
    assert spec.names == ("train", "validation", "test")
    assert SplitSpec(splits={"train": 0.9, "test": 0.1}) == SplitSpec()


@pytest.mark.parametrize(
    "cutoff, iso",
    [
        ("2024-06-01", "2024-06-01T00:00:00+00:00"),
        ("2024-06-01T08:00:00", "2024-06-01T08:00:00+00:00"),
        ("2024-06-01T08:00:00+08:00", "2024-06-01T00:00:00+00:00"),
        ("2024-06-01T08:00:00Z", "2024-06-01T08:00:00+00:00"),
    ],
)
def test_cutoff_forms(cutoff, iso):
    from splits.spec import parse_time

    assert parse_time(cutoff).isoformat() == iso


def test_from_dict_names_unknown_keys():
    with pytest.raises(SpecError, match="'ratio'"):
        SplitSpec.from_dict({"ratio": 0.1})


def test_from_toml_reads_a_whole_file(tmp_path):
    path = tmp_path / "split.toml"
    path.write_text(
        'strategy = "time"\nsalt = "s"\ngroup = "dup_cluster"\ncutoff = "2024-06-01"\nembargo_days = 3\n\n'
        "[splits]\ntrain = 0.8\nvalidation = 0.1\ntest = 0.1\n",
        encoding="utf-8",
    )
    spec = SplitSpec.from_toml(path)
    assert spec == SplitSpec(
        splits=(("train", 0.8), ("validation", 0.1), ("test", 0.1)),
        strategy="time", salt="s", group="dup_cluster", cutoff="2024-06-01", embargo_days=3.0,
    )


def test_from_toml_reads_a_named_table_and_a_list_of_pairs(tmp_path):
    path = tmp_path / "corpus.toml"
    path.write_text('[build]\nout = "x"\n\n[split]\nsplits = [["train", 0.75], ["test", 0.25]]\n', encoding="utf-8")
    assert SplitSpec.from_toml(path, table="split").splits == (("train", 0.75), ("test", 0.25))
    with pytest.raises(SpecError, match=r"\[splits\]"):
        SplitSpec.from_toml(path, table="splits")


def test_from_toml_reports_bad_toml_with_the_path(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("strategy = \n", encoding="utf-8")
    with pytest.raises(SpecError, match="bad.toml"):
        SplitSpec.from_toml(path)


@pytest.mark.parametrize(
    "sizes, expected",
    [
        ({}, (("train", 0.9), ("test", 0.1))),
        ({"test_size": 0.2}, (("train", 0.8), ("test", 0.2))),
        ({"test_size": 0.1, "validation_size": 0.1}, (("train", 0.8), ("validation", 0.1), ("test", 0.1))),
        ({"test_size": 0.05, "validation_size": 0.0}, (("train", 0.95), ("test", 0.05))),
    ],
)
def test_from_sizes(sizes, expected):
    assert SplitSpec.from_sizes(**sizes).splits == expected


def test_from_sizes_passes_other_fields_and_rejects_bad_sizes():
    assert SplitSpec.from_sizes(test_size=0.1, strategy="time", embargo_days=1).strategy == "time"
    with pytest.raises(SpecError, match="test_size"):
        SplitSpec.from_sizes(test_size=0)
    with pytest.raises(SpecError, match="1.5"):
        SplitSpec.from_sizes(test_size=1.5)
    with pytest.raises(SpecError, match="train"):
        SplitSpec.from_sizes(test_size=0.6, validation_size=0.4)
