"""builder.release.changelog: the changelog entry and the card edits (apply_release, release_identity)."""
import yaml

from builder.release import (LISTED_IDS, ReleaseDiff, SchemaChange, Version, apply_release, card_version,
                             changelog_entry, release_identity)


def test_changelog_entries():
    first = changelog_entry(Version(1, 0, 0), ReleaseDiff({}, {"train": 9, "test": 1}, added=["a"] * 10),
                            date="2024-05-01")
    assert first == "### v1.0.0 (2024-05-01)\n\nFirst release: 10 rows (train 9, test 1)."

    ids = [f"id{i:02d}" for i in range(LISTED_IDS + 3)]
    diff = ReleaseDiff({"train": 20}, {"train": 30}, added=ids, removed=["gone"], changed=["c1", "c2"],
                       changed_columns={"title": 1, "text": 2}, moved=[("m1", "train", "test")],
                       schema=SchemaChange(added=[("extra", "string")]))
    entry = changelog_entry(Version(2, 0, 0), diff, date="2024-06-01", previous=Version(1, 0, 0))
    lines = entry.splitlines()
    assert lines[0] == "### v2.0.0 (2024-06-01)" and "Compared with v1.0.0:" in lines
    assert "- Rows: 20 -> 30 (train 30)." in lines
    assert f"- Added: {LISTED_IDS + 3} rows: `id00`, " in entry and "`id09` and 3 more." in entry
    assert "- Removed: 1 row: `gone`." in lines
    assert "- Changed: 2 rows (by column: text 2, title 1): `c1`, `c2`." in lines
    assert "- Moved split: 1 row (train -> test 1): `m1`." in lines
    assert "- Schema: added `extra` (string)." in lines
    quiet = changelog_entry(Version(1, 0, 1), ReleaseDiff({"train": 1}, {"train": 1}), date="d",
                            previous=Version(1, 0, 0))
    assert "- Added: none." in quiet and "- Moved split: none." in quiet and "- Schema: unchanged." in quiet


# ---------------------------------------------------------------------------- the card

CARD = """---
pretty_name: News
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*
---

# News

Unreleased build (no version yet).

## How to load

```python
# ## Changelog inside code is not a heading
load_dataset("x")
```

## Changelog

No releases yet.

## Citation

None.
"""


def entry(v, text="Something."):
    return f"### v{v} (2024-01-01)\n\n{text}"


def test_apply_release_sets_the_version_and_puts_the_entry_first():
    card = apply_release(CARD, version="1.0.0", entry=entry("1.0.0", "First."))
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["version"] == "1.0.0" and meta["pretty_name"] == "News" and meta["configs"][0]["data_files"]
    assert card_version(card) == "1.0.0" and card_version(CARD) is None
    assert "Version 1.0.0 (tag `v1.0.0`)." in card and "Unreleased build" not in card
    assert "No releases yet." not in card  # the placeholder gives way to the first entry
    # Between markers, where card.template_from_card finds the entries again.
    assert ("## Changelog\n\n<!-- corpus:changelog -->\n\n### v1.0.0 (2024-01-01)\n\nFirst.\n\n"
            "<!-- /corpus:changelog -->\n\n## Citation\n\nNone.\n") in card
    assert "# ## Changelog inside code is not a heading" in card

    # The next release starts from the next build's card (no entries) and the previous card.
    nxt = apply_release(CARD, version="1.1.0", entry=entry("1.1.0", "Second."), previous_card=card)
    assert card_version(nxt) == "1.1.0" and nxt.count("version: ") == 1
    assert ("## Changelog\n\n<!-- corpus:changelog -->\n\n### v1.1.0 (2024-01-01)\n\nSecond.\n\n"
            "### v1.0.0 (2024-01-01)\n\nFirst.\n\n<!-- /corpus:changelog -->\n\n## Citation") in nxt
    # Applying the same release again (e.g. a re-run) replaces its entry: nothing doubles.
    again = apply_release(nxt, version="1.1.0", entry=entry("1.1.0", "Second."), previous_card=card)
    assert again == nxt


def test_a_card_without_a_changelog_or_front_matter_gets_them():
    card = apply_release("---\npretty_name: x\n---\n\n# X\n\nBody.\n", version="0.1.0", entry=entry("0.1.0"))
    assert card.endswith("Body.\n\n## Changelog\n\n<!-- corpus:changelog -->\n\n### v0.1.0 (2024-01-01)\n\n"
                         "Something.\n\n<!-- /corpus:changelog -->\n")
    bare = apply_release("# X\n", version="0.1.0", entry=entry("0.1.0"))
    assert bare.startswith("---\nversion: 0.1.0\n---\n\n# X\n") and card_version(bare) == "0.1.0"
    replaced = apply_release("---\nversion: 0.0.1\nlicense: mit\n---\n# X\n", version="0.2.0", entry=entry("0.2.0"))
    assert "version: 0.2.0\nlicense: mit\n" in replaced
    intro = apply_release("# X\n\n## Changelog\n\nOwner's words.\n", version="1.0.0", entry=entry("1.0.0"))
    assert "## Changelog\n\n<!-- corpus:changelog -->\n\nOwner's words.\n\n### v1.0.0" in intro


def test_release_identity_ignores_only_what_a_release_writes():
    released = apply_release(CARD, version="3.1.4", entry=entry("3.1.4"),
                             previous_card=apply_release(CARD, version="3.0.0", entry=entry("3.0.0")))
    assert release_identity(released) == release_identity(CARD)
    assert release_identity(apply_release(CARD, version="3.1.4", entry=entry("3.1.4", "Other day."))) == \
        release_identity(released)
    assert release_identity(CARD.replace("None.", "Cite us.")) != release_identity(CARD)
    assert release_identity(CARD.replace("pretty_name: News", "pretty_name: Other")) != release_identity(CARD)


def test_release_identity_reads_the_tag_only_where_the_card_names_the_release():
    # The tag where a card loads its release is the version; the owner's own words naming a
    # version are text, compared as written (a card saying "v3.1.4" in its prose, released as
    # 3.1.4 and then as 3.2.0 with the same words, is the same content).
    def card(version):
        body = (f'Fixes the dates of v3.1.4.\n\n```python\nds = load_dataset("o/n", revision="v{version}")\n```\n\n'
                f"```bash\nhf download o/n --repo-type dataset --revision v{version} --local-dir x\n"
                f"corpus checkout path/to/registry v{version} -o release-v{version}\n```\n\n"
                f'load_dataset("release-v{version}")\n')
        return apply_release(CARD.replace("load_dataset(\"x\")", body), version=version, entry=entry(version))

    assert release_identity(card("3.1.4")) == release_identity(card("3.2.0"))
    assert "Fixes the dates of v3.1.4." in release_identity(card("3.1.4"))
    assert 'revision="v<version>"' in release_identity(card("3.1.4"))
    assert release_identity(card("3.1.4").replace("dates of v3.1.4", "dates of v3.1.5")) != \
        release_identity(card("3.1.4"))
