import os

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
