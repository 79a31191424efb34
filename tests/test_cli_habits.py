"""The CLI as `hf` users expect it: --version, bare `corpus`, versions of owner/name and of a
registry (errors exit 2), checkout of a registry's release, a dry run that checks the target,
401/403 with the fix, quiet HTTP at the default verbosity (the real command; the loopback Hub)."""
import json
import subprocess
import sys

import pytest

from builder.cli import main
from builder.publish import publish
from test_publish_git import build_corpora

REPO = "corpus-org/news"


def run(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "builder.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    return build_corpora(tmp_path_factory.mktemp("corpora"))


def test_version_and_bare_corpus():
    from builder import __version__

    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"corpus-builder {__version__}"
    proc = run()
    assert proc.returncode == 0 and "usage: corpus" in proc.stdout and "checkout" in proc.stdout


def test_registry_versions_checkout_and_errors(corpora, tmp_path):
    reg = tmp_path / "registry"
    publish(corpora["v1"], version="1.0.0", to=reg)
    publish(corpora["v2"], version="1.1.0", to=reg)
    for args in (("versions", str(reg)), ("versions", "--to", str(reg))):
        proc = run(*args)
        assert proc.returncode == 0 and proc.stdout.splitlines()[0].startswith("v1.0.0")
        assert f"corpus checkout {reg} v1.1.0 -o DIR" in proc.stderr  # the way to load an older release
    proc = run("checkout", str(reg), "v1.0.0", "-o", str(tmp_path / "old"))
    assert proc.returncode == 0, proc.stderr
    import datasets

    old = datasets.load_dataset(str(tmp_path / "old"))
    want = json.loads((corpora["v1"] / "splits.json").read_text())["counts"]
    assert {s: old[s].num_rows for s in old} == {s: n for s, n in want.items() if n}
    card = (tmp_path / "old" / "README.md").read_text(encoding="utf-8")
    assert "corpus checkout path/to/registry v1.0.0 -o release-v1.0.0" in card
    assert json.loads((tmp_path / "old" / "croissant.json").read_text())["version"] == "1.0.0"
    assert run("verify", str(tmp_path / "old")).returncode == 0

    for args, message in ((("versions", str(tmp_path / "nope")), "no registry at"),
                          (("versions", str(corpora["v1"])), "is not a registry"),
                          (("checkout", str(reg), "v9.0.0", "-o", str(tmp_path / "x")), "has no release v9.0.0"),
                          (("checkout", str(reg), "v1.0.0", "-o", str(corpora["v1"])), "is not empty")):
        proc = run(*args)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, (args, proc.stderr)


def test_a_dry_run_into_a_folder_that_is_not_a_registry_fails_like_the_real_run(corpora, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    for extra in ((), ("--dry-run",)):
        proc = run("publish", str(corpora["v1"]), "--to", str(notes), "--version", "1.0.0", *extra)
        assert proc.returncode == 2 and "is not a git repository" in proc.stderr, proc.stderr
    assert [p.name for p in notes.iterdir()] == ["todo.txt"]


def test_hub_versions_by_owner_name_and_a_misspelt_repo(hub, corpora, capsys):
    publish(corpora["v1"], version="1.0.0", repo_id=REPO)
    assert main(["versions", REPO]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("v1.0.0") and "HTTP Request" not in out.err  # no request lines by default
    assert main(["versions", "corpus-org/newz"]) == 2
    err = capsys.readouterr().err
    assert "no such dataset repo on the Hub" in err and "'corpus-org/newz'" in err


def test_a_refused_token_says_how_to_fix_it(hub, corpora, capsys, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", "/nonexistent/token")
    assert main(["publish", str(corpora["v1"]), "--repo", REPO, "--version", "1.0.0"]) == 2
    err = capsys.readouterr().err
    assert "HTTP 401" in err and "HF_TOKEN" in err and "hf auth login" in err and "write access" in err
