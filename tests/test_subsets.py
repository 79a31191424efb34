"""--subset-by COLUMN: one config per value under data/<name>/, `default` over every row, each
loadable by name with `datasets`; rows keep the splits a flat build gives them; the card,
croissant.json, `corpus verify`, `corpus split` and a Hub release all read the subset layout.
A value never chooses a path: its folder name is made of [a-z0-9_~-] only."""
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest

from builder.errors import ConfigError
from builder.pipeline import build
from builder.resplit import resplit
from builder.subsets import EMPTY_NAME, MAX_NAME, NULL_NAME, subset_name
from conftest import article, distinct_text, write_corpus
from splits import SplitSpec, verify_published
from test_card import CORPUS, SPEC, build_corpus, read_card, section

NAME = re.compile(r"^[a-z0-9_~-]+$")


def rows_by_split(folder: Path, config: str | None = None) -> dict[str, set[str]]:
    ds = datasets.load_dataset(str(folder), config)
    return {split: set(ds[split]["id"]) for split in ds}


def ids_of(folder: Path, column: str) -> dict[str, dict]:
    """id -> {split, value of column} of every shard under folder/data (any layout)."""
    out = {}
    for path in sorted((folder / "data").rglob("*.parquet")):
        split = path.name.split("-")[0]
        for row in pq.read_table(path, columns=["id", column]).to_pylist():
            out[row["id"]] = {"split": split, "value": row[column], "folder": path.parent.name}
    return out


@pytest.fixture(scope="module")
def flat_and_subsets(tmp_path_factory):
    root = tmp_path_factory.mktemp("subsets")
    flat = build_corpus(root, "flat")
    by_lang = build_corpus(root, "lang", subset_by="language")
    by_feed = build_corpus(root, "feed", subset_by="feed")
    return flat, by_lang, by_feed


# --- names -------------------------------------------------------------------------------------

def test_a_value_is_its_name_only_when_it_is_plain():
    assert [subset_name(v) for v in ("zh", "en", "other", "a_b-1")] == ["zh", "en", "other", "a_b-1"]
    assert subset_name("新浪财经") == "~e6~96~b0~e6~b5~aa~e8~b4~a2~e7~bb~8f"
    assert subset_name("bloomberg.com") == "bloomberg~2ecom"
    assert subset_name("EN") == "~45~4e"  # upper case: no two names differ by case alone
    assert subset_name(None) == NULL_NAME and subset_name("") == EMPTY_NAME
    assert subset_name("default") != "default" and subset_name("con") != "con"  # the all-rows config; Windows


@pytest.mark.parametrize("value", ["..", ".", "../../etc", "/abs", "a/b", "a\\b", ".hidden", "__x", "~", "*", "[a]",
                                   "x" * 300, "新" * 100, "default", "NUL", "a\nb", " ", "~null"])
def test_no_value_chooses_a_path(value):
    name = subset_name(value)
    assert NAME.match(name) and len(name) <= MAX_NAME and name not in (".", "..", "default")
    assert not name.startswith((".", "__"))  # datasets skips hidden and __special__ folders


def test_names_are_distinct_and_deterministic():
    values = ["a", "A", "~61", "a.b", "a~2eb", "x" * 300, "x" * 299 + "y", None, "", "~null", "~empty", "null", "default",
              "~64efault", "新", "新新"]
    names = [subset_name(v) for v in values]
    assert len(set(names)) == len(values)
    assert names == [subset_name(v) for v in values]


def test_a_bad_column_fails_before_reading(tmp_path):
    src = write_corpus(tmp_path / "src", {"a.md": article("一", f"<p>{distinct_text(1, 200)}</p>")})
    for column, words in (("nope", "not a column"), ("categories", "list column")):
        with pytest.raises(ConfigError, match=words):
            build(src, tmp_path / "out", progress=False, cache_dir=None, subset_by=column)
        assert not (tmp_path / "out").exists()


# --- a build with subsets ----------------------------------------------------------------------

def test_subsets_hold_the_flat_builds_rows_in_the_same_splits(flat_and_subsets):
    flat, by_lang, by_feed = flat_and_subsets
    want = ids_of(flat, "language")
    for out, column in ((by_lang, "language"), (by_feed, "feed")):
        got = ids_of(out, column)
        assert {i: r["split"] for i, r in got.items()} == {i: r["split"] for i, r in want.items()}
        assert all(r["folder"] == subset_name(r["value"]) for r in got.values())
        assert not list((out / "data").glob("*.parquet"))  # every shard in a subset folder
    # A value per folder, and shards numbered within it.
    assert sorted(p.name for p in (by_lang / "data").iterdir()) == sorted({r["value"] for r in want.values()})


def test_load_dataset_by_config_name(flat_and_subsets):
    flat, by_lang, by_feed = flat_and_subsets
    assert rows_by_split(by_lang) == rows_by_split(flat)  # default: every row, the flat build's splits
    every = ids_of(flat, "language")
    names = datasets.get_dataset_config_names(str(by_lang))
    assert names[0] == "default" and sorted(names[1:]) == sorted({r["value"] for r in every.values()})
    for lang in names[1:]:
        got = rows_by_split(by_lang, lang)
        want: dict[str, set] = {}
        for i, r in every.items():
            if r["value"] == lang:
                want.setdefault(r["split"], set()).add(i)
        assert got == want
    # Feed names are CJK: hex names, loadable by name too.
    feeds = ids_of(by_feed, "feed")
    cjk = next(r["value"] for r in feeds.values() if r["value"] and not r["value"].isascii())
    name = subset_name(cjk)
    assert name.startswith("~e") and name in datasets.get_dataset_config_names(str(by_feed))
    loaded = rows_by_split(by_feed, name)
    assert set().union(*loaded.values()) == {i for i, r in feeds.items() if r["value"] == cjk}


def test_the_card_has_a_config_and_statistics_per_subset(flat_and_subsets):
    flat, by_lang, _ = flat_and_subsets
    meta, body = read_card(by_lang)
    every = ids_of(flat, "language")
    langs = sorted({r["value"] for r in every.values()})
    configs = {c["config_name"]: c for c in meta["configs"]}
    assert list(configs) == ["default", *langs]
    assert configs["default"]["data_files"] == [{"split": s, "path": f"data/*/{s}-*"} for s in ("train", "test")]
    infos = {i["config_name"]: i for i in meta["dataset_info"]}
    assert list(infos) == list(configs)
    for lang in langs:
        counts = Counter(r["split"] for r in every.values() if r["value"] == lang)
        assert {s["name"]: s["num_examples"] for s in infos[lang]["splits"]} == dict(counts)
        assert [f["split"] for f in configs[lang]["data_files"]] == [s for s in ("train", "test") if counts[s]]
    assert {s["name"]: s["num_examples"] for s in infos["default"]["splits"]} == dict(
        Counter(r["split"] for r in every.values()))
    table = section(body, "Subsets")
    for lang in langs:
        counts = Counter(r["split"] for r in every.values() if r["value"] == lang)
        row = next(line for line in table.splitlines() if line.startswith(f"| `{lang}` |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == json.dumps(lang) and int(cells[2]) == sum(counts.values())
        assert [int(c) for c in cells[4:6]] == [counts["train"], counts["test"]]
    # The rest of the card is the flat build's: the same figures over every row.
    flat_meta, flat_body = read_card(flat)
    for heading in ("Languages", "Dates", "Text length", "Top categories"):
        assert section(body, heading) == section(flat_body, heading)
    summary = json.loads((by_lang / "build_summary.json").read_text())
    assert summary["subsets"]["column"] == "language"
    assert [s["name"] for s in summary["subsets"]["subsets"]] == langs


def test_verify_and_croissant_read_the_subset_layout(flat_and_subsets, tmp_path):
    _, by_lang, by_feed = flat_and_subsets
    for out in (by_lang, by_feed):
        assert verify_published(out) == []
        run = subprocess.run([sys.executable, "-m", "builder.cli", "verify", str(out)], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
    doc = json.loads((by_lang / "croissant.json").read_text())
    files = [d["@id"] for d in doc["distribution"] if d["@type"] == "cr:FileObject"]
    assert files == sorted(p.relative_to(by_lang).as_posix() for p in (by_lang / "data").rglob("*.parquet"))
    mlc = pytest.importorskip("mlcroissant")
    records = list(mlc.Dataset(jsonld=by_lang / "croissant.json").records("default"))
    want = ids_of(by_lang, "language")
    assert {r["default/id"].decode(): r["default/split"].decode() for r in records} == \
        {i: r["split"] for i, r in want.items()}


def test_a_missing_subset_shard_is_named(flat_and_subsets, tmp_path):
    import shutil

    _, by_lang, _ = flat_and_subsets
    copy = tmp_path / "copy"
    shutil.copytree(by_lang, copy)
    victim = sorted((copy / "data").rglob("*.parquet"))[0]
    victim.unlink()
    problems = verify_published(copy)
    assert problems and victim.relative_to(copy).as_posix() in problems[0]


def test_split_keeps_or_drops_the_subsets(flat_and_subsets, tmp_path):
    flat, by_lang, _ = flat_and_subsets
    spec = SplitSpec.from_sizes(test_size=0.5, salt="other")
    kept = tmp_path / "kept"
    resplit(by_lang, kept, spec=spec)
    plain = tmp_path / "plain"
    resplit(flat, plain, spec=spec)
    assert rows_by_split(kept) == rows_by_split(plain)
    assert {p.parent.name for p in (kept / "data").rglob("*.parquet")} == {p.name for p in (by_lang / "data").iterdir()}
    assert verify_published(kept) == []
    gone = tmp_path / "gone"
    resplit(by_lang, gone, spec=spec, subset_by=None)
    assert sorted(p.name for p in (gone / "data").iterdir()) == sorted(p.name for p in (plain / "data").iterdir())
    assert "subsets" not in json.loads((gone / "build_summary.json").read_text())
    assert [c["config_name"] for c in read_card(gone)[0]["configs"]] == ["default"]
    feed = tmp_path / "feed"
    resplit(flat, feed, spec=spec, subset_by="feed")
    assert "feed" == json.loads((feed / "build_summary.json").read_text())["subsets"]["column"]
    assert verify_published(feed) == []


def test_the_cli_flag(tmp_path):
    src = write_corpus(tmp_path / "src", CORPUS)
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "builder.cli", "build", str(src), "-o", str(out), "--no-cache", "-q",
                          "--test-size", "0.4", "--subset-by", "language"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert (out / "data" / "zh").is_dir() and datasets.get_dataset_config_names(str(out))[0] == "default"
    bad = subprocess.run([sys.executable, "-m", "builder.cli", "build", str(src), "-o", str(tmp_path / "x"),
                          "--subset-by", "warnings"], capture_output=True, text=True)
    assert bad.returncode == 2 and "list column" in bad.stderr


def test_a_release_on_the_hub_loads_by_config_name(hub, flat_and_subsets):
    from builder.publish import publish

    _, by_lang, _ = flat_and_subsets
    publish(by_lang, version="1.0.0", repo_id="corpus-org/langs")
    assert datasets.get_dataset_config_names("corpus-org/langs", revision="v1.0.0")[0] == "default"
    zh = datasets.load_dataset("corpus-org/langs", "zh", revision="v1.0.0")
    assert {s: set(zh[s]["id"]) for s in zh} == rows_by_split(by_lang, "zh")
    every = datasets.load_dataset("corpus-org/langs", revision="v1.0.0")
    assert {s: set(every[s]["id"]) for s in every} == rows_by_split(by_lang)


def test_hostile_values_stay_inside_data(tmp_path):
    feeds = [("..", "..", "etc"), ("/abs", "x"), ("Upper", "Case"), ("upper", "case"), ("default", "x"), ("__x", "y")]
    src = write_corpus(tmp_path / "src", {f"p/{k}.md": article(str(k), f"<p>{distinct_text(k, 300)}</p>", feed=feed)
                                          for k, feed in enumerate(feeds)})
    out = tmp_path / "out"
    build(src, out, progress=False, cache_dir=None, subset_by="feed")
    files = [p.relative_to(out / "data") for p in (out / "data").rglob("*") if p.is_file()]
    assert files and all(len(p.parts) == 2 and NAME.match(p.parts[0]) for p in files)
    names = {p.parts[0] for p in files}
    assert len(names) == len(feeds) and "default" not in names  # Upper/Case and upper/case apart
    assert not [p for p in tmp_path.rglob("*") if p.is_relative_to(tmp_path / "etc")]
    assert datasets.get_dataset_config_names(str(out))[0] == "default"
    assert sum(len(d) for d in datasets.load_dataset(str(out)).values()) == len(feeds)
    assert verify_published(out) == []
