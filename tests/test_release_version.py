"""builder.release.version: semver (the one definition) and the bump rule."""
import pytest

from builder.errors import VersionError
from builder.release import SEMVER, ReleaseDiff, SchemaChange, Version, check_version


def test_versions_parse_order_and_tag():
    assert Version.parse("1.2.0") == Version(1, 2, 0) == Version.parse("v1.2.0")
    assert str(Version.parse(" 10.0.3 ")) == "10.0.3" and Version.parse("10.0.3").tag == "v10.0.3"
    assert Version.parse("1.10.0") > Version.parse("1.9.9") > Version.parse("1.9.0") > Version.parse("0.99.99")
    for bad in ("1.2", "1.2.3.4", "01.2.3", "1.2.x", "latest", "", "1.2.3-rc.1"):
        with pytest.raises(VersionError, match="MAJOR.MINOR.PATCH"):
            Version.parse(bad)
    assert Version.from_tag("v2.0.1") == Version(2, 0, 1)
    assert Version.from_tag("2.0.1") is None and Version.from_tag("v2") is None and Version.from_tag("main") is None


def test_bump_kinds():
    v = Version(1, 2, 3)
    assert Version(2, 0, 0).bump_from(v) == "major"
    assert Version(1, 3, 0).bump_from(v) == "minor"
    assert Version(1, 2, 4).bump_from(v) == "patch"
    assert [str(v.next(k)) for k in ("patch", "minor", "major")] == ["1.2.4", "1.3.0", "2.0.0"]
    with pytest.raises(VersionError):
        Version(1, 2, 3).bump_from(v)


def breaking_diff(**kw) -> ReleaseDiff:
    return ReleaseDiff(rows_before={"train": 2}, rows_after={"train": 2}, **kw)


def test_check_version_goes_up_and_breaking_changes_need_a_major():
    check_version(Version(0, 1, 0), latest=None, diff=None)  # a first release may be anything
    with pytest.raises(VersionError, match=r"not greater than the latest release v1\.1\.0.*1\.1\.1, 1\.2\.0 or 2\.0"):
        check_version(Version(1, 0, 5), latest=Version(1, 1, 0), diff=None)
    with pytest.raises(VersionError, match="not greater"):
        check_version(Version(1, 1, 0), latest=Version(1, 1, 0), diff=None)

    moved = breaking_diff(moved=[("a1", "train", "test"), ("a2", "test", "train")])
    with pytest.raises(VersionError) as err:
        check_version(Version(1, 2, 0), latest=Version(1, 1, 0), diff=moved)
    message = str(err.value)
    assert "1.2.0 is a minor release" in message and "moves 2 existing rows to another split" in message
    assert "id a1 from train to test" in message and "publish 2.0.0" in message
    check_version(Version(2, 0, 0), latest=Version(1, 1, 0), diff=moved)

    removed = breaking_diff(schema=SchemaChange(removed=[("feed", "string")], retyped=[("n", "int32", "int64")]))
    with pytest.raises(VersionError, match=r"a patch release.*removes the column feed; changes the type of n "):
        check_version(Version(1, 1, 1), latest=Version(1, 1, 0), diff=removed)

    # Rows added, removed or changed and new columns are not breaking: any bump will do.
    growth = breaking_diff(added=["x"], removed=["y"], changed=["z"], schema=SchemaChange(added=[("new", "string")]))
    assert not growth.breaking
    check_version(Version(1, 1, 1), latest=Version(1, 1, 0), diff=growth)


def test_semver_is_the_one_definition():
    # builder.release.SEMVER is what Version.parse accepts: no pre-release or build suffix.
    assert SEMVER.match("1.2.0") and SEMVER.match("v1.2.0")
    assert not any(SEMVER.match(bad) for bad in ("1.2.0-rc1", "1.2.0+build", "01.2.0", "1.2"))
