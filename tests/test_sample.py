"""The bundled sample corpus builds, and every file ends as its EXPECTED.json entry says."""
import json

import datasets
import pytest

from builder.pipeline import SAMPLE_DIR, build

EXPECTED = json.loads((SAMPLE_DIR / "EXPECTED.json").read_text(encoding="utf-8"))
FILES = {path: e for path, e in EXPECTED.items() if isinstance(e, dict) and "expect" in e}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample") / "out"
    report = build(None, out, progress=False)
    ds = datasets.load_dataset(str(out))
    rows = {r["source_path"]: r for split in ds.values() for r in split}
    rejects = {json.loads(line)["path"]: json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()}
    return report, rows, rejects


def test_accounting(built):
    report, rows, rejects = built
    assert report.balanced and report.files_found == len(FILES)
    assert report.rows == sum(e["expect"] == "row" for e in FILES.values()) >= 30
    assert len(rejects) == sum(e["expect"] == "reject" for e in FILES.values())
    assert sum(report.ignored.values()) == sum(e["expect"] == "ignore" for e in FILES.values())


@pytest.mark.parametrize("path", sorted(p for p, e in FILES.items() if e["expect"] == "reject"))
def test_rejected_with_reason(built, path):
    assert built[2][path]["reason"] == FILES[path]["reason"]


@pytest.mark.parametrize("path", sorted(p for p, e in FILES.items() if e["expect"] == "row"))
def test_row_matches_expectation(built, path):
    row, want = built[1][path], FILES[path]
    assert row["title"] == want["title"]
    got_date = row["date"].strftime("%Y-%m-%dT%H:%M:%SZ") if row["date"] else None
    assert got_date == want["date_utc"]
    if want.get("encoding"):
        assert row["encoding"] == want["encoding"]
    for key in ("editor", "source", "original_title", "stock_codes", "language", "n_paragraphs", "image_url",
                "categories", "date_assumed_tz"):
        if key in want:
            assert row[key] == want[key], key
    if "warnings" in want:
        assert sorted(row["warnings"]) == sorted(want["warnings"])
    for text in want.get("text_includes", []):
        assert text in row["text"]
    for text in want.get("text_excludes", []):
        assert text not in row["text"]
    extra = json.loads(row["extra"])
    for key, value in want.get("extra_includes", {}).items():
        assert extra[key] == value
