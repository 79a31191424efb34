"""The dataset card: every figure recomputed from the Parquet files written, YAML that
load_dataset honours, plots that open as images, the checks, and the owner's template."""
import importlib.util
import json
import math
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from huggingface_hub import DatasetCard

from builder.card import DEFAULT_TEMPLATE, HUB_METADATA_KEYS, check_card, input_manifest_hash, render_card
from builder.errors import CardError
from builder.schema import ROW_SCHEMA
from builder.pipeline import build
from conftest import article, assert_same_files, distinct_text, write_corpus
from splits import SplitSpec

SINA = ("金融", "新浪财经", "国内")
KR = ("新媒体", "36kr", "快讯")
CORPUS = {
    "source/_posts/金融/一.md": article("一", f"<p>{distinct_text(1, 120)}</p>", date="2022-01-05 08:00:00"),
    "source/_posts/金融/二.md": article("二", f"<p>{distinct_text(2, 400)}</p>", date="Fri, 04 Mar 2022 02:14:53 GMT"),
    "source/_posts/金融/三.md": article("三", f"<p>{distinct_text(3, 900)}</p>", date="2022-03-20T23:30:00+08:00"),
    "source/_posts/金融/四.md": article("四", f"<p>{distinct_text(4, 60)}</p>", date="Invalid Date"),
    "source/_posts/36kr/五.md": article("五", f"<p>{distinct_text(5, 250)}</p>", date="2022-02-11 10:00:00", feed=KR),
    "source/_posts/36kr/六.md": article("六", f"<p>{distinct_text(6, 1800)}</p>", date="2022-02-12 10:00:00", feed=KR),
    "source/_posts/36kr/七.md": article("七", f"<p>{distinct_text(7, 3000)}</p>", date="2021-12-31 23:59:59", feed=KR),
    "src/pages/posts/202305101640.md": ("---\ntitle: 'Astro'\npubDate: 2023-05-10\ntags: ['anime', 'news']\n---\n\n"
                                        "The studio said that the English text is here for the news of the week.\n"),
    "notes/无头.md": f"# 没有前言的文章\n\n{distinct_text(8, 300)}\n",
    "source/_posts/金融/重复.md": article("重复", f"<p>{distinct_text(1, 120)}</p>", date="2022-01-06 08:00:00"),
    "source/_posts/金融/短.md": article("短", "<p>只有几个字。</p>"),
    "broken/404.md": "<html><head><title>404 Not Found</title></head><body>404</body></html>",
    "assets/logo.png": b"\x89PNG",
}
SPEC = SplitSpec.from_sizes(test_size=0.4)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def build_corpus(tmp_path: Path, name: str = "out", **kw) -> Path:
    src = tmp_path / "src"
    if not src.exists():
        write_corpus(src, CORPUS)
    out = tmp_path / name
    build(src, out, progress=False, split_spec=SPEC, **kw)
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return build_corpus(tmp_path_factory.mktemp("card"))


# --- reading a card back, and recomputing its figures independently ---------------------------

def read_card(out: Path) -> tuple[dict, str]:
    text = (out / "README.md").read_text(encoding="utf-8")
    _, head, body = text.split("---\n", 2)
    return yaml.safe_load(head), body


def section(body: str, heading: str) -> str:
    """The text under a '### heading' (or '## heading') up to the next heading."""
    m = re.search(rf"^#+ {re.escape(heading)}[^\n]*\n(.*?)(?=^#+ |\Z)", body, re.M | re.S)
    assert m, f"no section {heading!r}"
    return m.group(1)


def parquet_rows(out: Path) -> dict[str, list[dict]]:
    """Split -> its rows, read back from the shards; splits in the split spec's order."""
    order = [name for name, _ in json.loads((out / "splits.json").read_text())["spec"]["splits"]]
    rows: dict[str, list[dict]] = {}
    for path in sorted((out / "data").glob("*.parquet"), key=lambda p: (order.index(p.name.split("-")[0]), p.name)):
        rows.setdefault(path.name.split("-")[0], []).extend(pq.read_table(path).to_pylist())
    return rows


def ranked(counter: Counter) -> list:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))


def assert_card_matches_parquet(out: Path) -> None:
    meta, body = read_card(out)
    by_split = parquet_rows(out)
    every = [r for rows in by_split.values() for r in rows]
    n = len(every)
    files = {s: sorted((out / "data").glob(f"{s}-*.parquet")) for s in by_split}

    # YAML: what load_dataset reads, and what it computes itself.
    ds = datasets.load_dataset(str(out))
    assert {s: len(ds[s]) for s in ds} == {s: len(rows) for s, rows in by_split.items()}
    assert meta["configs"] == [{"config_name": "default",
                                "data_files": [{"split": s, "path": f"data/{s}-*"} for s in by_split]}]
    info = meta["dataset_info"]
    assert [(s["name"], s["num_examples"]) for s in info["splits"]] == [(s, len(r)) for s, r in by_split.items()]
    for s in info["splits"]:
        assert s["num_bytes"] == ds[s["name"]].info.splits[s["name"]].num_bytes  # datasets' own count
    assert info["download_size"] == sum(p.stat().st_size for paths in files.values() for p in paths)
    assert info["dataset_size"] == sum(s["num_bytes"] for s in info["splits"])
    assert [f["name"] for f in info["features"]] == list(ds[next(iter(ds))].features)
    assert meta["size_categories"] == ["n<1K" if n < 1000 else "1K<n<10K" if n < 10_000 else "10K<n<100K"]
    assert set(meta) <= HUB_METADATA_KEYS

    rows_table = section(body, "Rows per split")
    for s, rows in by_split.items():
        size = sum(p.stat().st_size for p in files[s])
        assert f"| {s} | {len(rows):,} | {len(rows) / n:.1%} | {len(files[s])} | {size:,} |" in rows_table

    dates = [r["date"] for r in every if r["date"] is not None]
    undated = n - len(dates)
    fmt = "%Y-%m-%d %H:%M:%S"
    assert (f"From {min(dates):{fmt}} to {max(dates):{fmt}} (UTC); {undated:,} row{'' if undated == 1 else 's'} "
            "without a date.") in section(body, "Dates")

    lengths = sorted(r["n_chars"] for r in every)
    assert lengths == sorted(len(r["text"]) for r in every)
    pct = [lengths[math.floor(p / 100 * (n - 1))] for p in (5, 25, 50, 75, 95)]
    values = [lengths[0], *pct, lengths[-1]]
    row = "| " + " | ".join(f"{v:,}" for v in values) + f" | {sum(lengths) / n:,.1f} |"
    assert row in section(body, "Text length")
    assert f"{sum(lengths):,} characters in all" in section(body, "Text length")

    langs = section(body, "Languages")
    for lang, c in Counter(r["language"] for r in every).items():
        assert f"| {lang} | {c:,} | {c / n:.1%} |" in langs

    feeds = section(body, "Top feeds")
    feed_counts = Counter(r["feed"] for r in every)
    assert f"({len(feed_counts):,} in all)" in body
    for rank, (feed, c) in enumerate(ranked(feed_counts)[:10], 1):
        per_split = " | ".join(f"{sum(r['feed'] == feed for r in rows):,}" for rows in by_split.values())
        label = f"`{feed}`" if feed is not None else "(no feed)"
        assert f"| #{rank} | {label} | {c:,} | {per_split} |" in feeds

    categories = section(body, "Top categories")
    for cat, c in ranked(Counter(c for r in every for c in r["categories"]))[:10]:
        assert f"| `{cat}` | {c:,} |" in categories

    warnings = section(body, "Warnings on the rows kept")
    for code, c in Counter(w for r in every for w in r["warnings"]).items():
        assert f"| `{code}` | {c:,} |" in warnings

    rejects = Counter(json.loads(line)["reason"] for line in (out / "rejects.jsonl").read_text().splitlines())
    summary = json.loads((out / "build_summary.json").read_text())
    ledger = section(body, "Rejected and ignored files")
    assert (f"{summary['files_found']:,} file{'' if summary['files_found'] == 1 else 's'} found = {n:,} rows + "
            f"{sum(rejects.values()):,} rejected + {sum(summary['ignored'].values()):,} ignored") in ledger
    for code, c in rejects.items():
        assert f"| `{code}` | {c:,} |" in ledger
    flagged = sum(r["dup_cluster"] != r["id"] for r in every)
    assert (f"Removed: {rejects['duplicate']:,} exact and {rejects['near_duplicate']:,} near duplicates"
            in section(body, "Duplicates"))
    assert f"(`dup_cluster` differs from `id`): {flagged:,} row" in section(body, "Duplicates")
    assert "{{" not in body


def assert_pngs(out: Path) -> list[Path]:
    from PIL import Image

    _, body = read_card(out)
    links = re.findall(r"!\[[^\]]+\]\((assets/[^)]+\.png)\)", body)
    assert sorted(links) == sorted(p.relative_to(out).as_posix() for p in (out / "assets").glob("*.png"))
    for link in links:
        data = (out / link).read_bytes()
        assert data.startswith(PNG_MAGIC)
        with Image.open(out / link) as image:
            image.verify()
            assert image.size[0] >= 400 and image.size[1] >= 100
        assert b"Software" not in data and b"tIME" not in data  # nothing that changes from build to build
    return [out / link for link in links]


# --- tests --------------------------------------------------------------------------------------

def test_every_figure_matches_the_parquet_files(built):
    assert set(parquet_rows(built)) == {"train", "test"}  # both splits have rows: the tables show both
    assert_card_matches_parquet(built)


def test_shards_without_the_text_bytes_key_give_the_same_figures(tmp_path):
    # The card counts a shard's texts from its footer key without reading them; a shard
    # without the key (another writer, an older build) is read whole: the same figures.
    from builder.card import card_stats
    from builder.write import ShardWriter, TEXT_BYTES_KEY

    rows = [{**r, "id": f"{k:016x}"} for k, r in enumerate(parquet_rows(build_corpus(tmp_path / "b"))["train"])]
    size = pa.Table.from_pylist(rows, schema=ROW_SCHEMA).nbytes  # a few shards of several row groups
    writer = ShardWriter(tmp_path / "keyed" / "data", "train", shard_bytes=size // 2, row_group_bytes=size // 20)
    for k in range(0, len(rows), 7):
        writer.write(pa.Table.from_pylist(rows[k:k + 7], schema=ROW_SCHEMA))
    shards = writer.close()
    (tmp_path / "plain" / "data").mkdir(parents=True)
    groups = []
    for path in shards:
        pf = pq.ParquetFile(path)
        assert TEXT_BYTES_KEY.encode() in pf.metadata.metadata
        groups.append(pf.metadata.num_row_groups)
        with pq.ParquetWriter(tmp_path / "plain" / "data" / path.name, pf.schema_arrow) as plain:
            for g in range(pf.metadata.num_row_groups):
                plain.write_table(pf.read_row_group(g))
    assert len(shards) > 1 and max(groups) > 1
    keyed, plain = card_stats(tmp_path / "keyed", ["train"]), card_stats(tmp_path / "plain", ["train"])
    assert keyed.splits[0].arrow_bytes == plain.splits[0].arrow_bytes
    assert keyed.splits[0].arrow_bytes == sum(pq.read_table(p).nbytes for p in shards)
    assert keyed.n_chars == plain.n_chars and keyed.feeds == plain.feeds and keyed.rows == len(rows)


def test_card_parses_and_its_yaml_keeps_the_owners_keys(built):
    card = DatasetCard((built / "README.md").read_text(encoding="utf-8"))
    owner = yaml.safe_load(DEFAULT_TEMPLATE.read_text(encoding="utf-8").split("---\n")[1])
    data = card.data.to_dict()
    for key in ("license", "task_categories"):
        assert data[key] == owner[key]
    # What the data tells: the languages of the rows, most rows first, and a title naming them.
    assert data["language"] == ["zh", "en"] and data["pretty_name"] == "Articles in Chinese and English"
    assert "tags" not in data and "# <!-- corpus:pretty_name -->Articles in Chinese and English" in card.text
    assert "source_description" not in data and "citation" not in data  # the template's own: in the body
    assert " ".join(owner["source_description"].split()) in card.text


def test_plots_are_images_linked_from_the_card(built):
    pytest.importorskip("matplotlib")
    pngs = assert_pngs(built)
    assert {p.name for p in pngs} == {"articles_per_month.png", "text_length.png", "split_composition_by_feed.png"}


def test_without_matplotlib_the_card_is_valid_without_images(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the `plots` extra were not installed
    out = build_corpus(tmp_path)
    assert not (out / "assets").exists()
    text = (out / "README.md").read_text(encoding="utf-8")
    assert "![" not in text
    DatasetCard(text)
    assert_card_matches_parquet(out)


def test_same_input_same_bytes(tmp_path):
    one, two = build_corpus(tmp_path, "one"), build_corpus(tmp_path, "two")
    assert (one / "README.md").exists() and (one / "croissant.json").exists()
    assert_same_files(one, two)


def test_template_edits_flow_through_and_the_owners_text_survives(tmp_path):
    template = tmp_path / "card.md"
    owner_text = "We collected these articles to study 财经 headlines; do not use them to rank people."
    edited = (DEFAULT_TEMPLATE.read_text(encoding="utf-8")
              .replace("license: unknown", "license: cc-by-4.0")
              .replace('citation: ""', "citation: '@misc{news, title={News}}'")
              .replace("## Schema", f"## Why this exists\n\n{owner_text}\n\n## Schema"))
    template.write_text(edited, encoding="utf-8")
    out = build_corpus(tmp_path, card_template=template)
    meta, body = read_card(out)
    assert meta["license"] == "cc-by-4.0" and owner_text in body and "@misc{news, title={News}}" in body
    croissant = json.loads((out / "croissant.json").read_text())
    assert croissant["license"] == "cc-by-4.0" and croissant["citeAs"] == "@misc{news, title={News}}"

    build_corpus(tmp_path)  # the default template again: the card follows
    meta, body = read_card(out)
    assert meta["license"] == "unknown" and owner_text not in body and "No citation given." in body


def test_unknown_metadata_key_fails_and_leaves_the_old_output(built, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(built, out)
    before = (out / "README.md").read_bytes()
    template = tmp_path / "card.md"
    template.write_text(DEFAULT_TEMPLATE.read_text(encoding="utf-8").replace("license: unknown", "licence: mit"),
                        encoding="utf-8")
    with pytest.raises(CardError, match=r"'licence'.*fix the spelling"):
        build(_src(built), out, progress=False, split_spec=SPEC, card_template=template)
    assert (out / "README.md").read_bytes() == before


def _src(built: Path) -> Path:
    return built.parent / "src"


def test_unknown_placeholder_and_unreadable_template_are_card_errors(built, tmp_path):
    summary = json.loads((built / "build_summary.json").read_text())
    manifest = json.loads((built / "splits.json").read_text())
    template = tmp_path / "card.md"
    template.write_text("---\nlicense: mit\n---\n# {{pretty_name}}\n\n{{statistcs}}\n", encoding="utf-8")
    with pytest.raises(CardError, match=r"\{\{statistcs\}\}.*\{\{statistics\}\}"):
        render_card(built, summary=summary, manifest=manifest, template=template)
    with pytest.raises(CardError, match="cannot read the card template"):
        render_card(built, summary=summary, manifest=manifest, template=tmp_path / "missing.md")
    template.write_text("no front matter here\n", encoding="utf-8")
    with pytest.raises(CardError, match="YAML block"):
        render_card(built, summary=summary, manifest=manifest, template=template)
    template.write_text("---\nversion: 1.0.0\n---\n# {{pretty_name}}\n", encoding="utf-8")
    with pytest.raises(CardError, match="a release sets the version"):
        render_card(built, summary=summary, manifest=manifest, template=template)


def test_bad_template_is_one_clean_line_from_the_cli(built, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "builder.cli", "build", str(_src(built)), "-o", str(tmp_path / "out"),
                           "--quiet", "--card-template", str(tmp_path / "missing.md")], capture_output=True, text=True)
    assert proc.returncode == 2 and "cannot read the card template" in proc.stderr and "Traceback" not in proc.stderr


def test_configs_must_match_the_files_on_disk(built, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(built, out)
    text = (out / "README.md").read_text(encoding="utf-8")
    check_card(text, out)  # as built: fine
    stray = out / "data" / "validation-00000-of-00001.parquet"
    shutil.copy(next((out / "data").glob("test-*.parquet")), stray)
    with pytest.raises(CardError, match="validation-00000-of-00001.parquet.*in no split"):
        check_card(text, out)
    stray.unlink()
    for path in (out / "data").glob("test-*.parquet"):
        path.unlink()
    with pytest.raises(CardError, match="split 'test': pattern 'data/test-\\*' matches no file"):
        check_card(text, out)
    with pytest.raises(CardError, match="not a valid dataset card"):
        check_card("---\n- a list\n---\nbody\n", out)


def test_version_changelog_and_input_manifest_render(built):
    summary = json.loads((built / "build_summary.json").read_text())
    manifest = json.loads((built / "splits.json").read_text())
    summary["input_manifest_sha256"] = input_manifest_hash([("a.md", "00" * 32)])
    text = render_card(built, summary=summary, manifest=manifest, repo_id="me/news", version="1.2.0",
                       changelog="- 1.2.0: first release")
    assert 'load_dataset("me/news", revision="v1.2.0")' in text and "Version 1.2.0 (tag `v1.2.0`)" in text
    assert yaml.safe_load(text.split("---\n")[1])["version"] == "1.2.0"
    check_card(text, built)  # `version` is the one key beyond the Hub's that a card may carry
    assert "- 1.2.0: first release" in section(text, "Changelog")
    assert f"`{summary['input_manifest_sha256']}`" in section(text, "Provenance")
    assert 'hf_hub_download("me/news", "splits.json", repo_type="dataset", revision="v1.2.0")' in text
    assert render_card(built, summary=summary, manifest=manifest, version="v1.2.0") == \
        render_card(built, summary=summary, manifest=manifest, version="1.2.0")
    default = (built / "README.md").read_text(encoding="utf-8")
    recorded = json.loads((built / "build_summary.json").read_text())["input_manifest_sha256"]
    assert "No releases yet." in section(default, "Changelog") and f"`{recorded}`" in section(default, "Provenance")
    assert "Unreleased build (no version yet)." in default and "version" not in read_card(built)[0]
    with pytest.raises(CardError, match="MAJOR.MINOR.PATCH"):
        render_card(built, summary=summary, manifest=manifest, version="latest")


def test_input_manifest_hash_is_order_free_and_content_bound():
    pairs = [("b/二.md", "11" * 32), ("a.md", "00" * 32)]
    digest = input_manifest_hash(pairs)
    assert digest == input_manifest_hash(reversed(pairs)) and re.fullmatch(r"[0-9a-f]{64}", digest)
    assert digest != input_manifest_hash([("b/二.md", "12" * 32), ("a.md", "00" * 32)])  # an edit
    assert digest != input_manifest_hash([("b/三.md", "11" * 32), ("a.md", "00" * 32)])  # a rename
    assert digest != input_manifest_hash(pairs[:1])                                     # a removal


def test_input_manifest_fed_in_runs_equals_fed_a_pair_at_a_time():
    from builder.card import InputManifest

    pairs = sorted((f"{k:03d}/\"新\".md", f"{k:064x}") for k in range(50))
    one, runs = InputManifest(), InputManifest()
    for pair in pairs:
        one.add(*pair)
    cuts = [0, 1, 17, 17, 40, 50]  # runs of any length, an empty one too
    for a, b in zip(cuts, cuts[1:]):
        runs.add_many(pairs[a:b])
    assert runs.hexdigest() == one.hexdigest() == input_manifest_hash(reversed(pairs))
    with pytest.raises(ValueError, match="sorted"):
        runs.add_many([("000/a.md", "00")])


def test_the_cards_code_runs(built):
    """How to load, and the two ways to check and regenerate the splits, as the card gives them."""
    text = (built / "README.md").read_text(encoding="utf-8")
    blocks = [b.replace("path/to/this/folder", str(built))
              for b in re.findall(r"```(?:python|bash)\n(.*?)```", text, re.S)]
    python = [b for b in blocks if "import" in b]
    namespace: dict = {}
    for block in python:
        exec(block, namespace)
    assert {s: len(d) for s, d in namespace["ds"].items()} == {s: len(r) for s, r in parquet_rows(built).items()}
    published = {s: sorted(r["id"] for r in rows) for s, rows in parquet_rows(built).items()}
    assert {s: sorted(d["id"]) for s, d in namespace["splits"].items() if len(d)} == published
    (verify,) = [b.strip() for b in blocks if b.startswith("python -m splits verify")]
    proc = subprocess.run([sys.executable, *verify.split()[1:]], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_a_build_with_no_rows_writes_no_card(tmp_path):
    from builder.errors import NoRowsError

    src = write_corpus(tmp_path / "src", {"a.md": "", "b.md": "<html><title>404 Not Found</title></html>"})
    with pytest.raises(NoRowsError, match=r"every article file .* was rejected \(empty_file 1, empty_text 1\)"):
        build(src, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_shared_corpus_card(shared_corpus, tmp_path):
    out = tmp_path / "out"
    build(shared_corpus, out, progress=False)
    assert_card_matches_parquet(out)
    if importlib.util.find_spec("matplotlib"):
        assert len(assert_pngs(out)) == 3
    mlc = pytest.importorskip("mlcroissant")
    from test_croissant import assert_croissant_matches

    assert_croissant_matches(out, mlc)


def test_datasets_reads_the_built_cards_configs_and_info_as_the_check_does(built):
    # check_card reads configs and dataset_info by their structure; datasets must agree.
    from datasets import Features
    from datasets.info import DatasetInfo
    from datasets.utils.metadata import MetadataConfigs

    from builder.schema import ROW_SCHEMA

    card = DatasetCard((built / "README.md").read_text(encoding="utf-8"))
    configs = MetadataConfigs.from_dataset_card_data(card.data)
    assert list(configs) == ["default"]
    assert [e["split"] for e in configs["default"]["data_files"]] == ["train", "test"]
    info = DatasetInfo._from_yaml_dict(dict(card.data.to_dict()["dataset_info"]))
    assert sorted(info.splits) == ["test", "train"]
    assert info.features == Features.from_arrow_schema(ROW_SCHEMA)


@pytest.mark.parametrize("configs, message", [
    ("configs: {a: 1}", "configs must be a list"),
    ("configs:\n- {config_name: default, data_files: [{split: train}]}", "data_files must list"),
    ("configs:\n- {config_name: x}\n- {config_name: x}", "listed twice"),
    ("dataset_info: [1]", "dataset_info must be a mapping"),
])
def test_malformed_configs_or_info_are_card_errors(built, configs, message):
    with pytest.raises(CardError, match=message):
        check_card(f"---\nlicense: mit\n{configs}\n---\nbody\n", built)
