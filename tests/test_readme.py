"""The README is the front door: keep what it documents true."""
import re
from pathlib import Path

from builder.cli import make_parser
from builder.errors import REJECT_REASONS, WARNINGS
from builder.schema import COLUMNS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_column_is_documented_with_its_type():
    for name, typ, _, _ in COLUMNS:
        assert f"| `{name}` | `{typ}` |" in README, name


def test_every_reason_and_warning_code_is_documented():
    for code in [*REJECT_REASONS, *WARNINGS]:
        assert f"| `{code}` |" in README, code


def test_the_code_tables_list_each_code_once_with_its_meaning():
    for heading, codes in (("### Reject reasons", REJECT_REASONS), ("### Warning codes", WARNINGS)):
        table = README[README.index(heading):].split("\n\n")[1]
        rows = re.findall(r"^\| `([a-z_]+)` \| (.+) \|$", table, re.M)
        assert [code for code, _ in rows] == list(codes), heading
        assert dict(rows) == dict(codes), heading


def test_documented_flags_exist():
    commands = make_parser()._subparsers._group_actions[0].choices
    known = {opt for sub in commands.values() for action in sub._actions for opt in action.option_strings}
    for flag in re.findall(r"`(--[a-z][a-z-]+)", README):
        assert flag in known, flag


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, re.S)


def test_the_python_example_runs_as_written_as_a_script(tmp_path):
    """The first Python example, saved as a script, builds with worker processes (a corpus
    past the inline threshold) in a folder holding `path/to/articles`."""
    import shutil
    import subprocess
    import sys

    from builder.pipeline import SAMPLE_DIR
    from conftest import article, distinct_text, write_corpus

    example = _python_blocks()[0]
    assert 'build("path/to/articles", "out"' in example
    write_corpus(tmp_path / "path/to/articles", {f"source/_posts/f/{i}.md": article(f"t{i}", f"<p>{distinct_text(i)}</p>")
                                                 for i in range(250)})
    shutil.copytree(SAMPLE_DIR, tmp_path / "path/to/articles/sample")
    (tmp_path / "example.py").write_text(example, encoding="utf-8")
    env = {**__import__("os").environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "files found" in result.stdout
    assert (tmp_path / "out" / "data").is_dir()


def test_the_cache_default_is_the_same_in_the_table_the_command_and_the_library():
    import inspect

    from builder.cache import default_dir
    from builder.pipeline import USER_CACHE, build

    assert inspect.signature(build).parameters["cache_dir"].default is USER_CACHE  # default_dir() at build time
    assert "`$XDG_CACHE_HOME/corpus-builder`, else `~/.cache/corpus-builder`" in README
    assert default_dir().name == "corpus-builder"
    cache_flag = [a for a in make_parser()._subparsers._group_actions[0].choices["build"]._actions
                  if "--cache-dir" in a.option_strings][0]
    assert cache_flag.default is None and "XDG_CACHE_HOME" in cache_flag.help  # None: default_dir()
