"""`python -m splits verify OUT`: check a published folder's shards and recompute its splits; fail loudly if a
shard is damaged or anything moved."""
from __future__ import annotations

import argparse
import sys

from .errors import SplitError
from .integrity import verify_published


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m splits", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    verify_cmd = commands.add_parser(
        "verify",
        help="check the shards of OUT against OUT/croissant.json, recompute its splits from OUT/splits.json",
        description="Check that every shard in OUT/data/*.parquet is readable Parquet with the sha256 "
        "OUT/croissant.json lists (exit 1 naming the first that is not), then recompute the split of every "
        "row with the spec in OUT/splits.json; exit 1 naming the first differing ids if anything moved.",
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
        print(f"FAILED: {args.out} does not match its manifests:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"OK: the shards and splits of {args.out} match its manifests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
