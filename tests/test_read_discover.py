import os

import pytest

from builder.read.discover import discover
from conftest import write_corpus

SUFFIXES = (".md", ".markdown", ".html", ".htm")


def test_recursive_sorted_and_ignored_by_suffix(tmp_path):
    write_corpus(tmp_path, {"b/z.md": "x", "a/y.MD": "x", "a/x.html": "x", "c/.DS_Store": "x", "c/img.png": "x",
                            "notes": "x", "d/e/f.markdown": "x"})
    found = discover(tmp_path, SUFFIXES)
    assert [rel for rel, _ in found.articles] == ["a/x.html", "a/y.MD", "b/z.md", "d/e/f.markdown"]
    assert found.ignored == {".ds_store": 1, ".png": 1, "(none)": 1}
    assert found.n_found == 7


def test_symlinks_leaving_the_root_are_not_followed(tmp_path):
    outside = tmp_path / "outside"
    write_corpus(outside, {"secret.md": "---\ntitle: s\n---\nsecret"})
    root = write_corpus(tmp_path / "root", {"in.md": "x"})
    os.symlink(outside / "secret.md", root / "leak.md")
    os.symlink(outside, root / "leakdir")
    os.symlink(root / "in.md", root / "alias.md")  # inside the root: followed
    os.symlink(root, root / "loop")                  # a folder reached twice is walked once
    found = discover(root, SUFFIXES)
    assert [rel for rel, _ in found.articles] == ["alias.md", "in.md"]
    assert sorted((r.path, r.reason) for r in found.rejects) == [("leak.md", "outside_root"), ("leakdir", "outside_root")]


def test_odd_file_names(tmp_path):
    names = ['"quoted" title.md', " leading space.md", ".hidden.md", "名字 with spaces.md"]
    write_corpus(tmp_path, {n: "x" for n in names})
    (tmp_path / os.fsdecode(b"bad-\xff-byte.md")).write_text("x")
    found = discover(tmp_path, SUFFIXES)
    rels = [rel for rel, _ in found.articles]
    assert len(rels) == 5 and "bad-\\xff-byte.md" in rels
    for rel in rels:
        rel.encode("utf-8")  # every path can be written to Parquet and JSON


def test_walk_order_is_the_order_of_whole_paths(tmp_path):
    # Folders finish before the entries after them, yet '-' and '.' sort before '/': the walk
    # keys a folder by its name plus '/', so it meets files in plain sorted-path order.
    names = ["a/x.md", "a-b.md", "a.md", "a b/y.md", "ab/z.md", "a/b/c.md", "a/b.md", "a/b-c.md", "Z.md", "中/文.md",
             "中文.md", "a/.hidden.md"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("# t\n\nx", encoding="utf-8")
    found = discover(tmp_path, (".md",))
    rels = [rel for rel, _ in found.articles]
    assert rels == sorted(names)
    assert found.articles[-1] == (rels[-1], str(tmp_path / rels[-1]))
    assert found.articles[1:3] == [(r, str(tmp_path / r)) for r in rels[1:3]]


@pytest.mark.parametrize("spool", [False, True])
def test_article_list_round_trips_every_entry_and_slice(spool, tmp_path):
    from builder.read.discover import ArticleList

    rels = sorted({f"source/_posts/金融/新浪财经/国内/{i:05d}-{'x' * (i % 7)}.md" for i in range(300)}
                  | {"a.md", "a/b.md", "a/b/c" * 40 + ".md", "z/\udcff-raw-byte.md", "短.md"})
    items = ArticleList("/root", tmp_path if spool else None)
    if spool:
        items._SPOOL_AT = 100  # to a file every few entries: slices span file and memory
    for rel in rels:
        items.append(rel)
    assert len(items) == len(rels)
    assert [items[i][1] for i in range(len(rels))] == [f"/root/{r}" for r in rels]
    assert items[-1] == items[len(rels) - 1]
    for start, stop in [(0, 0), (0, 1), (31, 33), (30, 97), (290, 400), (5, 5)]:
        assert [p for _, p in items[start:stop]] == [f"/root/{r}" for r in rels[start:stop]]
    assert [p for _, p in items[3:50:7]] == [f"/root/{r}" for r in rels[3:50:7]]
    raw = rels.index("z/\udcff-raw-byte.md")
    assert items[raw][0] == "z/\\xff-raw-byte.md"  # shown: the raw byte escaped, never an unencodable str
    with pytest.raises(IndexError):
        items[len(rels)]
    if spool:
        assert items._spooled > 1000 and len(items._blob) < 200
        assert len(list(tmp_path.iterdir())) <= 1  # an unnamed temporary file where the system allows
    items.close()


def test_common_prefix_is_the_bytes_two_paths_share():
    import random

    from builder.read.discover import _common_prefix

    rng = random.Random(4)
    for _ in range(3000):  # NUL and 0xff bytes included: leading zeros must not count as equal
        a, b = (bytes(rng.choice(b"a\x00\xff") for _ in range(rng.randrange(12))) for _ in range(2))
        shared = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        assert _common_prefix(a, b) == shared


def test_excluded_files_are_counted_never_read(tmp_path):
    # `SOURCES.md` at an archive's root is documentation, not an article (issue 20).
    (tmp_path / "posts").mkdir()
    (tmp_path / "SOURCES.md").write_text("# Sources")
    (tmp_path / "posts" / "a.md").write_text("---\ntitle: a\n---\ntext")
    (tmp_path / "posts" / "README.md").write_text("# readme")
    found = discover(tmp_path, (".md",), exclude=("SOURCES.md", "*/README.md"))
    assert [rel for rel, _ in found.articles] == ["posts/a.md"]
    assert found.ignored == {"excluded": 2} and found.n_found == 3
    assert [rel for rel, _ in discover(tmp_path, (".md",), exclude=("README.md",)).articles] == [
        "SOURCES.md", "posts/a.md"]
