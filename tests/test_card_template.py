"""The card template: the owner's edits flow through and bad templates fail early and cleanly;
the card speaks of the user's data (languages and title from the rows; license, title and tags
from the flags or a [card] table, CardOptions); and `corpus split` re-renders from the
dataset's own card, read back as its template."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from huggingface_hub import DatasetCard

from builder.card import DEFAULT_TEMPLATE, CardOptions, render_card, template_from_card
from builder.errors import CardError, ConfigError
from builder.pipeline import build
from builder.resplit import resplit
from conftest import article, write_corpus
from splits import SplitSpec
from test_card import SPEC, build_corpus, built, read_card  # noqa: F401  (built: a fixture)

ENGLISH = {f"posts/anime/{i}.md": article(f"Episode {i}", "<p>" + " ".join(
    f"The studio announced season {i} of the show, word {w} of the English news." for w in range(6)) + "</p>",
    date=f"2023-05-{1 + i:02d} 08:00:00", feed=("Anime", "Astro")) for i in range(12)}


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "builder.cli", *args], capture_output=True, text=True, cwd=cwd)


def card(out):
    text = (out / "README.md").read_text(encoding="utf-8")
    return DatasetCard(text).data.to_dict(), text


@pytest.fixture(scope="module")
def english(tmp_path_factory):
    root = tmp_path_factory.mktemp("english")
    src = write_corpus(root / "src", ENGLISH)
    settings = root / "corpus.toml"
    settings.write_text('[card]\npretty_name = "Anime news"\nlicense = "cc-by-4.0"\ntags = ["anime"]\n'
                        'source_description = "Episode news from the Astro anime feeds."\n', encoding="utf-8")
    proc = run("build", str(src), "-o", str(root / "out"), "-q", "--no-cache", "--workers", "1",
               "--card-settings", str(settings), "--tag", "anime", "--tag", "news")
    assert proc.returncode == 0, proc.stderr
    return root / "out"


def test_an_english_corpus_reads_true_from_title_to_license(english):
    meta, text = card(english)
    assert meta["language"] == ["en"] and meta["pretty_name"] == "Anime news" and meta["license"] == "cc-by-4.0"
    assert meta["tags"] == ["anime", "news"]  # the flags win over the file's
    assert "Chinese" not in text and "finance" not in text.lower() and "# <!-- corpus:pretty_name -->Anime news" in text
    assert "Episode news from the Astro anime feeds." in text
    croissant = json.loads((english / "croissant.json").read_text(encoding="utf-8"))
    assert croissant["inLanguage"] == ["en"] and croissant["license"] == "cc-by-4.0"
    assert croissant["keywords"] == ["anime", "news"]


def test_without_settings_the_title_names_the_languages(tmp_path):
    src = write_corpus(tmp_path / "src", ENGLISH)
    proc = run("build", str(src), "-o", str(tmp_path / "out"), "-q", "--no-cache", "--workers", "1",
               "--license-name", "astro-terms-1.0")
    assert proc.returncode == 0, proc.stderr
    meta, _ = card(tmp_path / "out")
    assert meta["pretty_name"] == "Articles in English" and meta["license"] == "other"
    assert meta["license_name"] == "astro-terms-1.0" and "tags" not in meta


@pytest.mark.parametrize("flags, message", [
    (["--license", "other"], "license 'other' needs its name"),
    (["--license", "CC BY 4.0"], "'CC BY 4.0' is not a Hub license id"),
    (["--license", "mit", "--license-name", "mine"], "license_name 'mine' names an `other` license"),
    (["--tag", ""], "tag '' is empty"),
    (["--card-settings", "missing.toml"], "cannot read the card settings 'missing.toml'"),
])
def test_bad_card_settings_are_one_line_exit_2(tmp_path, flags, message):
    proc = run("build", "-o", str(tmp_path / "out"), "-q", *flags, cwd=tmp_path)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_unknown_card_setting_names_the_known_ones(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[card]\nlicence = "mit"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['licence'\].*license_name"):
        CardOptions.from_toml(path)


def test_split_re_renders_from_the_datasets_own_card(english, tmp_path):
    out = tmp_path / "resplit"
    own = (english / "README.md").read_text(encoding="utf-8")
    edited = own.replace("license: cc-by-4.0", "license: cc-by-sa-4.0").replace(
        "## Schema", "## A note of the owner\n\nKeep this paragraph.\n\n## Schema")
    (tmp_path / "in").mkdir()
    import shutil
    shutil.copytree(english, tmp_path / "in", dirs_exist_ok=True)
    (tmp_path / "in" / "README.md").write_text(edited, encoding="utf-8")
    resplit(tmp_path / "in", out, spec=SplitSpec.from_sizes(test_size=0.3, salt="other"))
    meta, text = card(out)
    assert meta["license"] == "cc-by-sa-4.0" and meta["pretty_name"] == "Anime news" and meta["tags"] == ["anime", "news"]
    assert "Keep this paragraph." in text and "Episode news from the Astro anime feeds." in text
    assert "salt `other`" in text  # the figures are the new split's


def test_a_card_reads_back_as_its_own_template(english):
    text = (english / "README.md").read_text(encoding="utf-8")
    tpl = template_from_card(text)
    assert "{{statistics}}" in tpl.body and "{{pretty_name}}" in tpl.body and "<!-- corpus:" not in tpl.body
    assert tpl.metadata["source_description"] == "Episode news from the Astro anime feeds."
    assert "configs" not in tpl.metadata and "dataset_info" not in tpl.metadata
    unmarked = template_from_card(yaml.safe_dump({"license": "mit"}).join(["---\n", "---\n# old card\n"]))
    assert unmarked.metadata["license"] == "mit" and "{{statistics}}" in unmarked.body


def test_template_edits_flow_through_and_the_owners_text_survives(tmp_path):
    template = tmp_path / "card.md"
    owner_text = "We collected these articles to study 财经 headlines; do not use them to rank people."
    edited = (DEFAULT_TEMPLATE.read_text(encoding="utf-8")
              .replace("license: unknown", "license: cc-by-4.0")
              .replace('citation: ""', "citation: '@misc{news, title={News}}'")
              .replace("## Schema", f"## Why this exists\n\n{owner_text}\n\n## Schema"))
    template.write_text(edited, encoding="utf-8")
    out = build_corpus(tmp_path, card_template=template)
    meta, body = read_card(out)
    assert meta["license"] == "cc-by-4.0" and owner_text in body and "@misc{news, title={News}}" in body
    croissant = json.loads((out / "croissant.json").read_text())
    assert croissant["license"] == "cc-by-4.0" and croissant["citeAs"] == "@misc{news, title={News}}"

    build_corpus(tmp_path)  # the default template again: the card follows
    meta, body = read_card(out)
    assert meta["license"] == "unknown" and owner_text not in body and "No citation given." in body


def test_unknown_metadata_key_fails_and_leaves_the_old_output(built, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(built, out)
    before = (out / "README.md").read_bytes()
    template = tmp_path / "card.md"
    template.write_text(DEFAULT_TEMPLATE.read_text(encoding="utf-8").replace("license: unknown", "licence: mit"),
                        encoding="utf-8")
    with pytest.raises(CardError, match=r"'licence'.*fix the spelling"):
        build(_src(built), out, progress=False, split_spec=SPEC, card_template=template)
    assert (out / "README.md").read_bytes() == before


def _src(built: Path) -> Path:
    return built.parent / "src"


def test_unknown_placeholder_and_unreadable_template_are_card_errors(built, tmp_path):
    summary = json.loads((built / "build_summary.json").read_text())
    manifest = json.loads((built / "splits.json").read_text())
    template = tmp_path / "card.md"
    template.write_text("---\nlicense: mit\n---\n# {{pretty_name}}\n\n{{statistcs}}\n", encoding="utf-8")
    with pytest.raises(CardError, match=r"\{\{statistcs\}\}.*\{\{statistics\}\}"):
        render_card(built, summary=summary, manifest=manifest, template=template)
    with pytest.raises(CardError, match="cannot read the card template"):
        render_card(built, summary=summary, manifest=manifest, template=tmp_path / "missing.md")
    template.write_text("no front matter here\n", encoding="utf-8")
    with pytest.raises(CardError, match="YAML block"):
        render_card(built, summary=summary, manifest=manifest, template=template)
    template.write_text("---\nversion: 1.0.0\n---\n# {{pretty_name}}\n", encoding="utf-8")
    with pytest.raises(CardError, match="a release sets the version"):
        render_card(built, summary=summary, manifest=manifest, template=template)


def test_bad_template_is_one_clean_line_from_the_cli(built, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "builder.cli", "build", str(_src(built)), "-o", str(tmp_path / "out"),
                           "--quiet", "--card-template", str(tmp_path / "missing.md")], capture_output=True, text=True)
    assert proc.returncode == 2 and "cannot read the card template" in proc.stderr and "Traceback" not in proc.stderr
