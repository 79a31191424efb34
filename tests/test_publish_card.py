"""A release's card and croissant.json speak of the release: the repo id and the tag in how to
load it, a changelog that accumulates, and croissant.json with the version, the repo's URL and
shard links that resolve on the (loopback) Hub, readable by mlcroissant away from the shards."""
import json

import pytest

from builder.publish import publish
from test_publish_git import build_corpora

REPO = "corpus-org/news"


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    return build_corpora(tmp_path_factory.mktemp("corpora"))


def test_the_published_card_names_the_repo_and_the_tag(hub, corpora):
    publish(corpora["v1"], version="1.0.0", repo_id=REPO)
    publish(corpora["v2"], version="1.1.0", repo_id=REPO)
    card = hub.read(REPO, "README.md", "v1.1.0").decode()
    assert f'load_dataset("{REPO}", revision="v1.1.0")' in card and "path/to/this/folder" not in card
    assert f"hf download {REPO} --repo-type dataset --revision v1.1.0" in card
    assert card.index("### v1.1.0 (") < card.index("### v1.0.0 (")
    # The folder's own card is untouched: it is the build's.
    assert "path/to/this/folder" in (corpora["v2"] / "README.md").read_text(encoding="utf-8")


def test_a_release_croissant_stands_alone(hub, corpora, tmp_path):
    mlc = pytest.importorskip("mlcroissant")
    publish(corpora["v1"], version="1.0.0", repo_id=REPO)
    doc = json.loads(hub.read(REPO, "croissant.json", "v1.0.0"))
    assert doc["version"] == "1.0.0" and doc["url"] == f"{hub.url}/datasets/{REPO}"
    objects = [d for d in doc["distribution"] if d["@type"] == "cr:FileObject"]
    assert objects and all(o["contentUrl"] == f"{hub.url}/datasets/{REPO}/resolve/v1.0.0/{o['@id']}" for o in objects)
    local = json.loads((corpora["v1"] / "croissant.json").read_text(encoding="utf-8"))
    assert [o["sha256"] for o in objects] == [d["sha256"] for d in local["distribution"] if d["@type"] == "cr:FileObject"]
    alone = tmp_path / "alone" / "croissant.json"
    alone.parent.mkdir()
    alone.write_text(json.dumps(doc), encoding="utf-8")
    dataset = mlc.Dataset(jsonld=alone)  # validates with no local file: every link is absolute
    assert not dataset.metadata.ctx.issues.errors
    import urllib.request

    for obj in objects:  # each link resolves to the shard's bytes
        with urllib.request.urlopen(obj["contentUrl"]) as answer:
            assert __import__("hashlib").sha256(answer.read()).hexdigest() == obj["sha256"]



@pytest.mark.parametrize("repo_id", [REPO, None], ids=["hub", "registry"])
def test_a_branch_release_card_names_the_branch_where_a_tagged_one_names_its_tag(corpora, repo_id):
    from builder.card import render_release

    tagged, _ = render_release(corpora["v2"], version="1.1.0", repo_id=repo_id)
    branch, _ = render_release(corpora["v2"], version="1.1.0", repo_id=repo_id, revision="staging")
    names = {'revision="v1.1.0"': 'revision="staging"', "--revision v1.1.0": "--revision staging",
             "corpus checkout path/to/registry v1.1.0 -o release-v1.1.0":
                 "git clone --branch staging path/to/registry release-staging",
             'load_dataset("release-v1.1.0")': 'load_dataset("release-staging")'}
    assert sum(tagged.count(tag) for tag in names) >= (3 if repo_id else 2)
    expected = tagged
    for tag, name in names.items():
        expected = expected.replace(tag, name)
    assert branch == expected  # the same card, the branch named wherever the tag was
