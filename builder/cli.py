"""The `corpus` command: thin argument parsing over library functions.

Every flag is a keyword argument of the library function it calls; errors the user can fix
are printed on one line (exit 2), never as a traceback.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from .errors import ConfigError, CorpusError

log = logging.getLogger("builder")


def _build(args: argparse.Namespace) -> int:
    from . import readers

    if args.engine == "local" and readers.count(args.workers) > 1:
        # The workers' fork server imports the reader on another core while this process does.
        readers.start()
    from .pipeline import build
    from .run.worker import skip_pandas_probe
    from .settings import DEFAULT_SUFFIXES, BuildSettings

    skip_pandas_probe()  # this process is ours: no pandas import for pyarrow's type probe

    from .dedup import DedupSettings
    from .transform.quality import QualitySettings

    settings = BuildSettings(
        suffixes=tuple(args.suffixes.split(",")) if args.suffixes else DEFAULT_SUFFIXES,
        naive_timezone=args.timezone, rules_dirs=tuple(args.rules or ()), exclude=tuple(args.exclude or ()),
        max_file_bytes=args.max_file_bytes,
        max_seconds_per_file=args.max_seconds_per_file,
        quality=QualitySettings(min_chars=args.min_chars,
                                languages=tuple(args.languages.split(",")) if args.languages else None),
        dedup=DedupSettings(threshold=args.dedup_threshold, containment_threshold=args.containment_threshold,
                            shingle_size=args.shingle_size, num_perm=args.num_perm,
                            keep_duplicates=args.keep_duplicates))
    spec = _split_spec(args)
    report = build(args.source, args.output, settings=settings, split_spec=spec, workers=args.workers,
                   progress=_progress(args), card_template=args.card_template, card=_card_options(args),
                   cache_dir=None if args.no_cache else _cache_folder(args), subset_by=args.subset_by,
                   engine=args.engine, ray_address=args.ray_address)
    for line in report.summary_lines():
        print(line, file=sys.stderr)
    _print_audit(report.audit)
    return 0 if report.balanced else 1


def _card_options(args: argparse.Namespace):
    """The card's settings: the [card] table of --card-settings, the flags over it; None: neither."""
    from .card import CardOptions

    flags = dict(pretty_name=args.pretty_name, license=args.license, license_name=args.license_name,
                 tags=tuple(args.tag) if args.tag else None)
    if args.card_settings is None and all(v is None for v in flags.values()):
        return None
    base = CardOptions.from_toml(args.card_settings) if args.card_settings else CardOptions()
    return base.updated(**flags)


def _progress(args: argparse.Namespace) -> bool:
    """Progress bars unless -q, or TQDM_DISABLE set (as tqdm itself honours it)."""
    return not getattr(args, "quiet", False) and os.environ.get("TQDM_DISABLE", "").lower() in ("", "0", "false")


def _split_spec(args: argparse.Namespace):
    from splits import SplitSpec

    from .pipeline import DEFAULT_SPLIT

    if args.spec:
        return SplitSpec.from_toml(args.spec)
    kw = {"strategy": args.strategy, "salt": args.salt or DEFAULT_SPLIT.salt,
          "group": DEFAULT_SPLIT.group if args.group is None else (None if args.group == "id" else args.group),
          "stratify": args.stratify}
    if args.strategy == "time":
        kw.update(cutoff=args.cutoff, embargo_days=args.embargo_days)
    return SplitSpec.from_sizes(test_size=args.test_size, validation_size=args.validation_size, **kw)


def _print_audit(audit: dict) -> None:
    from splits import format_audit

    print(format_audit(audit), file=sys.stderr)


def _split(args: argparse.Namespace) -> int:
    from .resplit import AS_SOURCE, resplit

    subset_by = AS_SOURCE if args.subset_by is None else (None if args.subset_by == "none" else args.subset_by)
    manifest = resplit(args.dataset, args.output, spec=_split_spec(args), card_template=args.card_template,
                       subset_by=subset_by)
    _print_audit(manifest["audit"])
    return 0 if manifest["audit"]["ok"] else 1


def _verify(args: argparse.Namespace) -> int:
    from splits import SplitError, verify_published

    try:
        problems = verify_published(args.dataset)
    except SplitError as exc:
        print(f"corpus: error: {exc}", file=sys.stderr)
        return 2
    if not problems:
        print("verify: OK, every shard is intact and every row is in the split its spec gives", file=sys.stderr)
        return 0
    print(f"verify: FAILED: {problems[0]}", file=sys.stderr)  # a damaged shard is one line: nothing more is read
    for line in problems[1:]:
        print(f"  {line}", file=sys.stderr)
    return 1


def _quiet_http() -> None:
    # The HTTP client logs every request at INFO: noise around a plan that says what is sent.
    for name in ("httpx", "httpx2", "httpcore", "httpcore2"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _set_verbosity(args: argparse.Namespace) -> None:
    """-q: warnings and errors only, no progress bars; -v: every log line (the library's debug
    lines and the HTTP requests); default: the library's progress lines, no HTTP requests."""
    quiet, verbose = getattr(args, "quiet", False), getattr(args, "verbose", False)
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(message)s", stream=sys.stderr)
    if verbose:
        log.setLevel(logging.DEBUG)
    else:
        _quiet_http()
    if not _progress(args):
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # huggingface_hub's bars (read when they are drawn)
        try:
            from huggingface_hub.utils import disable_progress_bars

            disable_progress_bars()
        except ImportError:
            pass


def _publish(args: argparse.Namespace) -> int:
    from .publish import publish

    result = publish(args.dataset, version=args.version, repo_id=args.repo, to=args.to, token=args.token,
                     private=args.private, commit_message=args.message, dry_run=args.dry_run,
                     revision=args.revision, create_pr=args.create_pr)
    print("\n".join(result.lines()))
    return 0


def _versions(args: argparse.Namespace) -> int:
    from .publish import GitTarget, listed_target, versions

    if (args.target is None) == (args.to is None):
        raise ConfigError("give one target: owner/name (or hf://datasets/owner/name), or --to REGISTRY")
    releases = versions(args.target, to=args.to, token=args.token)
    for release in releases:
        print(release.line())
    where = args.to or args.target
    if not releases:
        print(f"no releases at {where}", file=sys.stderr)
    elif isinstance(listed_target(args.target, to=args.to, token=args.token), GitTarget):
        print(f"(load_dataset ignores revision= for a local folder: `corpus checkout {where} "
              f"{releases[-1].tag} -o DIR` writes a release to DIR, then load_dataset(DIR))", file=sys.stderr)
    return 0


def _checkout(args: argparse.Namespace) -> int:
    from .publish import checkout

    if (args.target is None) == (args.to is None):
        raise ConfigError("give one target: owner/name (or hf://datasets/owner/name), or --to REGISTRY")
    out = checkout(args.target, args.version, output=args.output, to=args.to, token=args.token)
    print(f"{args.version} -> {out}: load it with datasets.load_dataset({str(out)!r})", file=sys.stderr)
    return 0


# ---- corpus cache info / clear --------------------------------------------------------------------

_CACHE_DIR_HELP = "build cache folder (default: $XDG_CACHE_HOME/corpus-builder, else ~/.cache/corpus-builder)"


def _cache_folder(args: argparse.Namespace) -> str:
    from .cache import default_dir  # here, not at parse time: it imports pyarrow

    return args.cache_dir or str(default_dir())


def _cache_info(args: argparse.Namespace) -> int:
    from .cache import cache_info

    print("\n".join(cache_info(_cache_folder(args)).lines()))
    return 0


def _cache_clear(args: argparse.Namespace) -> int:
    from .cache import clear_cache

    print("\n".join(clear_cache(_cache_folder(args)).lines()))
    return 0


def _add_cache_parser(sub) -> None:
    c = sub.add_parser("cache", help="show or clear the build cache",
                       epilog="Example: corpus cache info   (the bound: CORPUS_CACHE_MAX_BYTES, default 5G)")
    actions = c.add_subparsers(dest="action", required=True)
    for name, func, text in (("info", _cache_info, "each cached build: source, size, last use; the total and its bound"),
                             ("clear", _cache_clear, "delete every cached build that no running build holds")):
        a = actions.add_parser(name, help=text)
        a.add_argument("--cache-dir", help=_CACHE_DIR_HELP)
        a.set_defaults(func=func)


def make_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="corpus", description="Turn folders of raw articles into datasets.")
    parser.add_argument("--version", action="version", version=f"corpus-builder {__version__}")
    sub = parser.add_subparsers(dest="command")

    b = sub.add_parser("build", help="build a dataset folder from article files",
                       epilog="Example: corpus build path/to/articles -o out/   (no SOURCE: the bundled sample)")
    b.add_argument("source", nargs="?", help="folder of article files, or a URL of one on object storage: "
                   "s3://, gs://, hf://... (default: the bundled sample corpus)")
    b.add_argument("-o", "--output", default="out", help="dataset folder to write (default: out)")
    b.add_argument("--workers", type=int, default=None, help="worker processes (default: number of cores)")
    b.add_argument("--engine", default="local", choices=("local", "ray"),
                   help="where the tasks run: this machine's processes (local, the default) or a Ray cluster "
                        "(ray: pip install 'corpus-builder[ray]'; the cluster's CPUs replace --workers)")
    b.add_argument("--ray-address", metavar="ADDRESS",
                   help="the Ray cluster to join with --engine ray: auto, HOST:6379 or ray://HOST:10001 "
                        "(default: $RAY_ADDRESS, else a Ray started on this machine)")
    b.add_argument("--suffixes", help="comma-separated article suffixes (default: .md,.markdown,.html,.htm)")
    b.add_argument("--timezone", default="UTC", help="zone for dates written without one (default: UTC)")
    b.add_argument("--rules", action="append", help="extra folder of boilerplate rule files (repeatable)")
    b.add_argument("--exclude", action="append", metavar="GLOB",
                   help="never read files whose path within SOURCE (or name) matches GLOB, e.g. SOURCES.md "
                        "(repeatable; counted as excluded in the summary)")
    b.add_argument("--max-file-bytes", type=int, default=32 * 2**20, help="reject larger files (default: 32 MiB)")
    b.add_argument("--max-seconds-per-file", type=float, default=30.0,
                   help="reject a file that takes longer to read (reason timeout; default: 30)")
    b.add_argument("--min-chars", type=int, default=20, help="reject texts shorter than this (default: 20)")
    b.add_argument("--languages", help="comma-separated allowed languages, e.g. zh,en (default: all)")
    b.add_argument("--keep-duplicates", action="store_true", help="keep duplicates, flagged by dup_cluster")
    b.add_argument("--dedup-threshold", type=float, default=0.5, help="near-duplicate Jaccard threshold (0.5)")
    b.add_argument("--containment-threshold", type=float, default=0.7,
                   help="share of a brief's shingles inside one stretch of a longer article 1.5 times its length that "
                        "makes it a contained copy (0.7)")
    b.add_argument("--shingle-size", type=int, default=5, help="characters per shingle (default: 5)")
    b.add_argument("--num-perm", type=int, default=128, help="MinHash permutations (default: 128)")
    b.add_argument("--cache-dir", help=_CACHE_DIR_HELP + "; the last builds' per-file results, for rebuilds")
    b.add_argument("--no-cache", action="store_true", help="use no cache")
    _add_split_flags(b)
    b.add_argument("--subset-by", metavar="COLUMN",
                   help="one Hub config (subset) per value of COLUMN, e.g. language or feed, its files under "
                        "data/<value>/, beside `default` with every row (default: no subsets)")
    b.add_argument("--card-template", help="dataset card template (default: the bundled dataset_card.md)")
    _add_card_flags(b)
    b.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=_build)

    sp = sub.add_parser("split", help="re-assign the splits of a built dataset from its Parquet alone",
                        epilog="Example: corpus split out/ --strategy time --embargo-days 3 -o out-time/")
    sp.add_argument("dataset", help="dataset folder, or hf://datasets/owner/name@v1.0.0")
    sp.add_argument("-o", "--output", help="folder to write (default: rewrite DATASET in place)")
    _add_split_flags(sp)
    sp.add_argument("--subset-by", metavar="COLUMN",
                    help="write subsets by COLUMN as build --subset-by does; 'none' for none (default: the "
                         "dataset's own)")
    sp.add_argument("--card-template", help="dataset card template (default: the bundled dataset_card.md)")
    sp.set_defaults(func=_split)

    v = sub.add_parser("verify", help="check every shard against croissant.json and recompute the splits; "
                       "fail if a shard is damaged or any row moved",
                       epilog="Example: corpus verify out/")
    v.add_argument("dataset", help="dataset folder with splits.json and data/*.parquet")
    v.set_defaults(func=_verify)

    pub = sub.add_parser("publish", help="publish a built dataset folder as a release: one commit and a version tag",
                         epilog="Example: corpus publish out/ --repo me/news --version 1.2.0   "
                                "(or --to path/to/registry: a local git repository)")
    pub.add_argument("dataset", help="dataset folder written by corpus build")
    where = pub.add_mutually_exclusive_group(required=True)
    where.add_argument("--repo", help="Hub dataset repo owner/name (created when missing)")
    where.add_argument("--to", help="local registry: a git repository, created when missing")
    pub.add_argument("--version", required=True, help="semver MAJOR.MINOR.PATCH; tagged vMAJOR.MINOR.PATCH")
    pub.add_argument("--message", help="commit message (default: Release vX.Y.Z)")
    pub.add_argument("--private", action="store_true", help="create the Hub repo private")
    pub.add_argument("--token", help="Hub token (default: HF_TOKEN or the saved login)")
    pub.add_argument("--revision", metavar="BRANCH",
                     help="commit the release to this branch (created from main's head when missing); not tagged: "
                          "tags are made on main only")
    pub.add_argument("--create-pr", action="store_true",
                     help="open a pull request against main holding the release as one commit (the Hub only); not "
                          "tagged: once merged, publish the same version without --create-pr to tag it")
    pub.add_argument("--dry-run", action="store_true",
                     help="say what the release would send (files added, changed, deleted and unchanged; the bytes "
                          "to upload) and print its changelog; send nothing")
    pub.set_defaults(func=_publish)

    ver = sub.add_parser("versions", help="list the releases of a Hub repo or a local registry",
                         epilog="Example: corpus versions me/news   (or --to path/to/registry)")
    ver.add_argument("target", nargs="?", help="owner/name, hf://datasets/owner/name, or a local registry path")
    ver.add_argument("--to", help="a local registry (as publish --to)")
    ver.add_argument("--token", help="Hub token (default: HF_TOKEN or the saved login)")
    ver.set_defaults(func=_versions)

    co = sub.add_parser("checkout", help="write one release of a registry or Hub repo to a new folder",
                        epilog="Example: corpus checkout registry/ v1.0.0 -o news-v1   "
                               "(then datasets.load_dataset('news-v1'))")
    co.add_argument("target", nargs="?", help="a local registry path, owner/name or hf://datasets/owner/name")
    co.add_argument("version", help="the release: v1.0.0 or 1.0.0")
    co.add_argument("--to", help="a local registry (as publish --to)")
    co.add_argument("-o", "--output", required=True, help="new folder to write the release to")
    co.add_argument("--token", help="Hub token (default: HF_TOKEN or the saved login)")
    co.set_defaults(func=_checkout)

    _add_cache_parser(sub)
    for name, command in sub.choices.items():
        _add_verbosity(command, quiet=name != "build")  # build has its own -q, listed with its flags
    return parser


def _add_verbosity(p: argparse.ArgumentParser, *, quiet: bool) -> None:
    if quiet:
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bars, warnings and errors only")
    p.add_argument("-v", "--verbose", action="store_true", help="the library's log lines, HTTP requests included")


def _add_card_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("card", "what the dataset card says that the data cannot tell (over the template's YAML)")
    g.add_argument("--pretty-name", help="the card's title (default: the template's, else 'Articles in <languages>')")
    g.add_argument("--license", help="a Hub license id, e.g. cc-by-4.0, mit (default: the template's, unknown)")
    g.add_argument("--license-name", help="the id of your own license: sets license: other")
    g.add_argument("--tag", action="append", help="a tag of the dataset on the Hub (repeatable)")
    g.add_argument("--card-settings", metavar="FILE.toml",
                   help="a TOML file whose [card] table sets pretty_name, license, license_name, license_link, "
                        "tags, source_description, citation (the flags above win)")


def _add_split_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("split")
    g.add_argument("--strategy", choices=("hash", "time"), default="hash", help="hash (default) or time")
    g.add_argument("--test-size", type=float, default=0.1, help="share of rows in test (default: 0.1)")
    g.add_argument("--validation-size", type=float, default=0.0, help="share in validation (default: 0)")
    g.add_argument("--salt", "--seed", dest="salt", help="split salt (changing it moves rows between splits)")
    g.add_argument("--group", help="column whose rows share a split (default: dup_cluster; 'id' for none)")
    g.add_argument("--stratify", help="column to report per-stratum shares for (e.g. feed)")
    g.add_argument("--cutoff", help="time strategy: first instant of test (default: the test-size quantile)")
    g.add_argument("--embargo-days", type=float, default=0.0, help="time strategy: days dropped before the cutoff")
    g.add_argument("--spec", help="a split spec TOML file (overrides the flags above)")


def main(argv: list[str] | None = None) -> int:
    from . import memory

    memory.for_this_process()  # before pyarrow loads: this process is ours
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    _set_verbosity(args)
    try:
        return args.func(args)
    except CorpusError as exc:
        print(f"corpus: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValueError as exc:  # bad settings caught by the splits package's own checks
        print(f"corpus: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("corpus: interrupted; the previous output is unchanged", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
