"""Coverage-guided fuzzing of the reader with atheris (libFuzzer for Python): process_file end to
end, the front-matter parser and the cleaner, under the properties tests/test_fuzz.py holds them
to (a row or a reject, never `internal_error`; rows the Parquet writer accepts; pure).

    pip install atheris                                      # beside the test extras (hypothesis)
    python fuzz/fuzz_reader.py -atheris_runs=100000          # 2-3 minutes on one core
    python fuzz/fuzz_reader.py -max_total_time=3600 -jobs=2  # longer; libFuzzer flags pass through

Not run in CI (too slow); its seeds and findings are, as tests/regressions/. The first input
byte picks the target (and, for process_file, the path's suffix and the settings), the rest is
the file. The corpus grows in fuzz/corpus/ (ignored by git), seeded from tests/regressions/, the
bundled sample and the test fixtures. A failure leaves fuzz/crash-<sha1> (or timeout-, oom-):
drop its first byte, save the rest under tests/regressions/ with a line in EXPECTED.json, and
fix the bug. An input slower than -timeout (10 s here) is a finding too: the reader must be
linear in its input.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

with atheris.instrument_imports(include=["builder"]):  # every reader module, for coverage feedback
    from builder.read import decode, front_matter
    from builder.transform import clean, dates, fields, ids, language, process, quality, rules, title  # noqa: F401
    from builder.errors import REJECT_REASONS
    from builder.transform.quality import QualitySettings
    from builder.transform.rules import load_rules
    from builder.settings import BuildSettings

from test_fuzz import check_file_result  # noqa: E402  (the properties, shared with the tests)

PATHS = ("a.md", "a.html", "source/_posts/金融/新浪财经/新浪财经－国內/a.md", "src/pages/posts/1.md")
SETTINGS = (
    BuildSettings(),
    BuildSettings(quality=QualitySettings(min_chars=0)),
    BuildSettings(max_frontmatter_bytes=64, max_alias_nodes=5, max_html_depth=40, max_html_elements=200,
                  naive_timezone="Asia/Shanghai", quality=QualitySettings(min_chars=0)),
    BuildSettings(max_file_bytes=512, quality=QualitySettings(min_chars=0, languages=("zh",))),
)
RULES = load_rules()
CORPUS = Path(__file__).with_name("corpus")
SEEDS = [ROOT / "tests" / "regressions", ROOT / "tests" / "fixtures", ROOT / "builder" / "sample"]


def one_input(data: bytes) -> None:
    if not data:
        return
    mode, body = data[0], data[1:]
    if mode < 192:  # the whole reader, most of the time
        check_file_result(PATHS[mode & 3], body, SETTINGS[(mode >> 2) & 3])
    elif mode < 224:
        text = body.decode("utf-8", "replace")
        try:
            fm = front_matter.parse(text, max_bytes=4096 if mode & 1 else 256 * 2**10,
                                    max_alias_nodes=10 if mode & 2 else 10_000)
        except front_matter.FrontMatterTooLarge:
            return
        assert isinstance(fm.meta, dict) and fm.format in {"yaml", "toml", "json", "lenient", "none"}
    else:
        text = body.decode("utf-8", "replace")
        try:
            cleaned = clean.clean_body(text, is_html=bool(mode & 1), rules=RULES if mode & 2 else ())
        except clean.HtmlLimit as exc:
            assert exc.reason in REJECT_REASONS
            return
        assert all(p and "\n" not in p for p in cleaned.paragraphs)


def _seed(corpus: Path) -> None:
    """Every file of the seed folders, as a process_file input (mode byte 0: a.md, defaults)."""
    corpus.mkdir(exist_ok=True)
    for folder in SEEDS:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name != "EXPECTED.json":
                mode = b"\x01" if path.suffix in (".html", ".htm") else b"\x00"
                (corpus / f"seed-{path.stem[:40]}{path.suffix}").write_bytes(mode + path.read_bytes())


def main() -> None:
    args = list(sys.argv)
    if not any(not a.startswith("-") for a in args[1:]):  # no corpus folder given: ours
        _seed(CORPUS)
        args.append(str(CORPUS))
    defaults = {"-timeout=": "10", "-max_len=": "65536", "-rss_limit_mb=": "3072",
                "-artifact_prefix=": str(Path(__file__).parent) + os.sep}  # findings land beside this file
    args += [flag + value for flag, value in defaults.items() if not any(a.startswith(flag) for a in args)]
    atheris.Setup(args, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    if "--clean" in sys.argv:  # start the corpus afresh from the seeds
        shutil.rmtree(CORPUS, ignore_errors=True)
        sys.argv.remove("--clean")
    main()
