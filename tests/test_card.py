"""The dataset card as a build writes it (builder/card/render.py): every figure recomputed from
the Parquet files written, YAML that load_dataset honours, plots that open as images, the
version and changelog, and code in the card that runs. The shared corpus helpers live here."""
import importlib.util
import json
import math
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
import yaml
from huggingface_hub import DatasetCard

from builder.card import DEFAULT_TEMPLATE, HUB_METADATA_KEYS, check_card, input_manifest_hash, render_card
from builder.errors import CardError
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
    for bad in ("latest", "1.2.0-rc1", "01.2.0"):  # the release's rule: what publish refuses, the card refuses
        with pytest.raises(CardError, match="MAJOR.MINOR.PATCH"):
            render_card(built, summary=summary, manifest=manifest, version=bad)


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
    from test_card_croissant import assert_croissant_matches

    assert_croissant_matches(out, mlc)
