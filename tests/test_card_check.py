"""The card's check: configs that match the shards on disk, dataset_info that agrees, metadata the
Hub knows, and the same reading of configs and dataset_info as `datasets` makes."""
import shutil

import pytest
from huggingface_hub import DatasetCard

from builder.card.check import check_card
from builder.errors import CardError
from test_card import built  # noqa: F401  (a fixture)


def test_configs_must_match_the_files_on_disk(built, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(built, out)
    text = (out / "README.md").read_text(encoding="utf-8")
    check_card(text, out)  # as built: fine
    stray = out / "data" / "validation-00000-of-00001.parquet"
    shutil.copy(next((out / "data").glob("test-*.parquet")), stray)
    with pytest.raises(CardError, match="validation-00000-of-00001.parquet.*in no split"):
        check_card(text, out)
    stray.unlink()
    for path in (out / "data").glob("test-*.parquet"):
        path.unlink()
    with pytest.raises(CardError, match="split 'test': pattern 'data/test-\\*' matches no file"):
        check_card(text, out)
    with pytest.raises(CardError, match="not a valid dataset card"):
        check_card("---\n- a list\n---\nbody\n", out)


def test_datasets_reads_the_built_cards_configs_and_info_as_the_check_does(built):
    # check_card reads configs and dataset_info by their structure; datasets must agree.
    from datasets import Features
    from datasets.info import DatasetInfo
    from datasets.utils.metadata import MetadataConfigs

    from builder.schema import ROW_SCHEMA

    card = DatasetCard((built / "README.md").read_text(encoding="utf-8"))
    configs = MetadataConfigs.from_dataset_card_data(card.data)
    assert list(configs) == ["default"]
    assert [e["split"] for e in configs["default"]["data_files"]] == ["train", "test"]
    info = DatasetInfo._from_yaml_dict(dict(card.data.to_dict()["dataset_info"]))
    assert sorted(info.splits) == ["test", "train"]
    assert info.features == Features.from_arrow_schema(ROW_SCHEMA)


@pytest.mark.parametrize("configs, message", [
    ("configs: {a: 1}", "configs must be a list"),
    ("configs:\n- {config_name: default, data_files: [{split: train}]}", "data_files must list"),
    ("configs:\n- {config_name: x}\n- {config_name: x}", "listed twice"),
    ("dataset_info: [1]", "dataset_info must be a mapping"),
])
def test_malformed_configs_or_info_are_card_errors(built, configs, message):
    with pytest.raises(CardError, match=message):
        check_card(f"---\nlicense: mit\n{configs}\n---\nbody\n", built)


@pytest.mark.parametrize("text", [
    "---\nlicense: mit\npretty_name: x\nlanguage: [zh, en]\n---\nbody\n",
    "\n  ---\r\nlicense: mit\r\n---  \r\nbody",                      # leading space, CRLF
    "---\nlicense: mit\ntags: null\ncitation: ~\n---\n",             # None values dropped
    "---\n---\nbody\n",                                              # an empty block
    "no metadata at all\n",
    "---\ntrain_eval_index: [{config: a}]\n---\n",
    "---\ntrain-eval-index: [{config: a}]\n---\n",
    "---\ntrain_eval_index: []\ntrain-eval-index: [{config: b}]\n---\n",
    "---\ntrain_eval_index: [{config: a}]\ntrain-eval-index: [{config: b}]\n---\n",
    "---\ndataset_info: {splits: [{name: train}]}\nconfigs: [{config_name: default}]\n---\n",
])
def test_card_metadata_reads_a_card_as_huggingface_hub_does(text):
    from builder.card.check import card_metadata

    assert card_metadata(text) == DatasetCard(text, ignore_metadata_errors=False).data.to_dict()


@pytest.mark.parametrize("text", [
    "---\n- a list\n---\nbody\n",
    "---\n0\n---\n",
    "---\n''\n---\n",
    "---\n1: one\n---\n",
    "---\nignore_metadata_errors: true\n---\n",
    "---\nlicense: [\n---\n",
])
def test_card_metadata_refuses_what_huggingface_hub_refuses(text):
    from builder.card.check import card_metadata

    with pytest.raises(Exception) as hub:
        DatasetCard(text, ignore_metadata_errors=False).data.to_dict()
    with pytest.raises(type(hub.value)):
        card_metadata(text)


def test_built_cards_metadata_is_huggingface_hubs(built):
    from builder.card.check import card_metadata

    text = (built / "README.md").read_text(encoding="utf-8")
    assert card_metadata(text) == DatasetCard(text).data.to_dict()


def test_a_build_does_not_import_the_hub_client(tmp_path):
    # The check reads the card as huggingface_hub does without importing its repocard (the
    # Hub client with it): a build's driver does not pay for it.
    import subprocess
    import sys

    code = ("import sys; from builder.pipeline import build; "
            f"build(None, {str(tmp_path / 'out')!r}, progress=False, cache_dir=None); "
            "print(sorted(m for m in ('huggingface_hub.repocard', 'huggingface_hub.hf_api') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
