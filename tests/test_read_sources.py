"""Sources on object storage (builder.read.sources, builder.read.discover): a real S3 endpoint on loopback
(moto's server, over HTTP) holding a small corpus, against the same files on disk."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

s3fs = pytest.importorskip("s3fs", reason="the ray extra (s3fs) is not installed")
moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed")

from builder.read import sources  # noqa: E402
from builder.read.discover import discover  # noqa: E402
from builder.errors import ConfigError, SourceError  # noqa: E402
from builder.pipeline import build  # noqa: E402
from conftest import article, assert_same_files, distinct_text, write_corpus  # noqa: E402

SUFFIXES = (".md", ".html")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3():
    """An S3 endpoint on 127.0.0.1 with a bucket; AWS_* variables point botocore at it."""
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}.items():
            mp.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
            mp.delenv(name, raising=False)
        s3fs.S3FileSystem.clear_instance_cache()
        fs = s3fs.S3FileSystem()
        fs.mkdir("archive")
        try:
            yield fs
        finally:
            s3fs.S3FileSystem.clear_instance_cache()
            server.stop()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, s3) -> tuple[Path, str]:
    """The same files on disk and under s3://archive/site: nested, non-ASCII, names that sort
    differently as paths and as flat keys ('a-b' before 'a/'), files that are no articles."""
    files: dict[str, str | bytes] = {}
    for i in range(60):
        body = distinct_text(i - 1 if i % 10 == 9 else i, 200) + ("。再版" if i % 10 == 9 else "")
        files[f"{('国内', '国际', 'a', 'a-b')[i % 4]}/{i // 20}/{i:03d}.md"] = article(f"标题 {i}", body)
    files["a/x.html"] = "<html><body><h1>页面</h1><p>" + distinct_text(500, 200) + "</p></body></html>"
    files["a.md"] = article("顶层", distinct_text(501, 200))
    files["SOURCES.md"] = "# where these came from"
    files["国内/notes.txt"] = "not an article"
    files["国内/.DS_Store"] = b"\x00\x00"
    files["国内/empty.md"] = ""
    files["big.md"] = article("大", distinct_text(502, 3000))
    root = write_corpus(tmp_path_factory.mktemp("corpus") / "site", files)
    s3.put(str(root), "archive/site", recursive=True)
    return root, "s3://archive/site"


def _found(found) -> tuple:
    return list(found.articles[:]) if len(found.articles) else [], dict(found.ignored), found.rejects


def test_discovery_from_s3_equals_discovery_on_disk(corpus):
    local, url = corpus
    on_disk = discover(local, SUFFIXES, exclude=("/SOURCES.md",))
    listed = discover(url + "/", SUFFIXES, exclude=("/SOURCES.md",))
    assert [shown for shown, _ in listed.articles[:]] == [shown for shown, _ in on_disk.articles[:]]
    assert [path for _, path in listed.articles[:]] == [f"{url}/{shown}" for shown, _ in on_disk.articles[:]]
    assert listed.ignored == on_disk.ignored == {"excluded": 1, ".txt": 1, ".ds_store": 1}
    assert listed.rejects == on_disk.rejects == []
    assert list(listed.sizes) == [(local / shown).stat().st_size for shown, _ in on_disk.articles[:]]
    assert [s for s, _ in listed.articles[:]][:3] == ["a-b/0/003.md", "a-b/0/007.md", "a-b/0/011.md"]


def test_files_read_from_s3_are_the_files_on_disk(corpus):
    local, url = corpus
    data = (local / "a/x.html").read_bytes()
    assert sources.read_bytes(f"{url}/a/x.html", 10**6) == (len(data), data)
    assert sources.read_bytes(f"{url}/国内/empty.md", 10**6) == (0, b"")


def test_the_size_limit_is_decided_before_reading(corpus):
    local, url = corpus
    size = (local / "big.md").stat().st_size
    assert sources.read_bytes(f"{url}/big.md", 1000) == (size, None)  # from the store's metadata
    assert sources.read_bytes(f"{url}/a.md", 1000, size=2000) == (2000, None)  # from the listing, unread


def test_missing_files_and_folders(corpus, s3):
    _, url = corpus
    with pytest.raises(FileNotFoundError):
        sources.read_bytes(f"{url}/gone.md", 1000)
    with pytest.raises(SourceError, match="does not exist or is not a folder"):
        sources.check_folder("s3://archive/nothing-here")
    sources.check_folder(url)


def test_a_store_that_cannot_be_reached_stops_the_build(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    s3fs.S3FileSystem.clear_instance_cache()
    try:
        with pytest.raises(SourceError, match=r"^cannot read 's3://archive/site/a.md' .*previous output is unchanged"):
            sources.read_bytes("s3://archive/site/a.md", 1000, size=10)
    finally:
        s3fs.S3FileSystem.clear_instance_cache()


def test_urls_and_missing_file_system_packages():
    assert sources.is_remote("s3://b/k") and sources.is_remote("hf://datasets/o/n/data")
    assert not sources.is_remote("articles/2024") and not sources.is_remote("C:\\articles")
    assert not sources.is_remote("file:///srv/articles") and not sources.is_remote(Path("s3:/x"))
    with pytest.raises(ConfigError, match="pip install gcsfs"):
        sources.check_folder("gs://bucket/archive")


def test_a_build_from_s3_equals_the_build_from_disk(corpus, tmp_path):
    local, url = corpus
    a = build(local, tmp_path / "disk", workers=1, progress=False, cache_dir=None)
    b = build(url, tmp_path / "s3", workers=1, progress=False, cache_dir=None)
    assert a.splits == b.splits
    assert_same_files(tmp_path / "disk", tmp_path / "s3")
    # The cache: no stat to trust, so every file read again and known by its bytes' sha256
    first = build(url, tmp_path / "c1", workers=1, progress=False, cache_dir=tmp_path / "cache")
    again = build(url, tmp_path / "c2", workers=1, progress=False, cache_dir=tmp_path / "cache")
    assert dict(first.from_cache) == {} and dict(again.from_cache) == {"bytes": 65}  # every article
    assert_same_files(tmp_path / "disk", tmp_path / "c2")
