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
