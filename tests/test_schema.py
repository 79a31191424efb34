"""The output schema's Features: declared by us, read the same by `datasets`."""
from __future__ import annotations

import json

import pyarrow as pa
from datasets import Features
from datasets.info import DatasetInfo

from builder.schema import ROW_SCHEMA, hf_features_dict, hf_features_yaml, schema_with_features


def test_declared_features_are_what_datasets_derives_from_the_schema():
    assert Features.from_dict(hf_features_dict()) == Features.from_arrow_schema(ROW_SCHEMA)


def test_card_yaml_features_read_back_as_the_same_features():
    info = DatasetInfo._from_yaml_dict({"features": hf_features_yaml()})
    assert info.features == Features.from_arrow_schema(ROW_SCHEMA)


def test_lists_use_the_form_every_supported_datasets_version_reads():
    # 3.x knows "Sequence" only; newer versions read it as List.
    assert hf_features_dict()["categories"] == {"feature": {"dtype": "string", "_type": "Value"}, "_type": "Sequence"}
    assert {"name": "warnings", "sequence": "string"} in hf_features_yaml()


def test_schema_metadata_carries_the_features():
    meta = json.loads(schema_with_features().metadata[b"huggingface"])
    assert meta == {"info": {"features": hf_features_dict()}}
    assert schema_with_features().remove_metadata() == ROW_SCHEMA
    assert all(isinstance(f.type, pa.DataType) for f in ROW_SCHEMA)
