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
