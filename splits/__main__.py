"""`python -m splits verify OUT`: recompute a published folder's splits and fail loudly if anything moved."""
from __future__ import annotations

import argparse
import sys

from .errors import SplitError
from .published import verify_published


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m splits", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    verify_cmd = commands.add_parser(
        "verify",
        help="recompute the splits of OUT from OUT/splits.json and compare",
        description="Recompute the split of every row in OUT/data/*.parquet with the spec in OUT/splits.json; "
        "exit 1 naming the first differing ids if anything moved.",
        epilog="Example: python -m splits verify out/",
    )
    verify_cmd.add_argument("out", metavar="OUT", help="a built output folder holding splits.json and data/")
    args = parser.parse_args(argv)
    try:
        problems = verify_published(args.out)
    except SplitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if problems:
        print(f"FAILED: the splits of {args.out} do not match its manifest:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"OK: the splits of {args.out} match its manifest")
    return 0


if __name__ == "__main__":
    sys.exit(main())
