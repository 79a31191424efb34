"""The output row: one explicit Arrow schema, declared once, and its `datasets` Features.

Front matter varies from file to file, so nothing is inferred from the data: every
writer, reader and test uses ROW_SCHEMA. Changing a column's name or type is a
breaking change of the published dataset (a major version).
"""
from __future__ import annotations

import json

import pyarrow as pa

# (name, type, nullable, description) - the description is what the README and the card show.
COLUMNS: list[tuple[str, pa.DataType, bool, str]] = [
    ("id", pa.string(), False,
     "Stable id: 16 hex digits of sha256 over the front-matter id/url, else the normalised path within the source root."),
    ("title", pa.string(), False, "Title from the front matter (or the first '# ' heading when there is none)."),
    ("text", pa.string(), False, "Clean text: markup and boilerplate removed, paragraphs separated by a blank line."),
    ("date", pa.timestamp("us", tz="UTC"), True, "Publication time in UTC; null when missing or unparseable."),
    ("date_assumed_tz", pa.string(), True,
     "The zone a date without a zone was read in (e.g. 'UTC'); null when the date carried its own zone."),
    ("author", pa.string(), True, "Author from the front matter."),
    ("categories", pa.list_(pa.string()), False, "Categories (or tags) from the front matter, in order."),
    ("feed", pa.string(), True, "The feed: categories joined by '/', else the folder within the archive."),
    ("source", pa.string(), True, "Original source named in the body ('来源：…') or the front matter."),
    ("editor", pa.string(), True, "Responsible editor named in the body ('责任编辑：…')."),
    ("original_title", pa.string(), True, "Original title named in the body ('原标题：…')."),
    ("stock_codes", pa.list_(pa.string()), False, "Stock codes tagged in the body (e.g. 'sz002024')."),
    ("url", pa.string(), True, "Link to the original article, from the front matter."),
    ("image_url", pa.string(), True, "Lead image URL (placeholder images are dropped)."),
    ("language", pa.string(), False, "zh, en, ja, ko or other, from the script of the text."),
    ("n_chars", pa.int32(), False, "Characters in text."),
    ("n_paragraphs", pa.int32(), False, "Paragraphs in text."),
    ("source_path", pa.string(), False, "Path of the raw file within the source root, '/'-separated."),
    ("encoding", pa.string(), False, "Encoding the raw file was decoded with."),
    ("content_sha256", pa.string(), False, "sha256 of the normalised text: equal texts, equal hashes."),
    ("dup_cluster", pa.string(), False, "Id of the duplicate cluster's kept row; the row's own id when unique."),
    ("split_group", pa.string(), False, "The key the split was assigned by (rows sharing it share a split)."),
    ("split_bucket", pa.int32(), False, "Bucket 0-9999 of split_group under the split spec's salt."),
    ("warnings", pa.list_(pa.string()), False, "Warning codes raised while reading this file."),
    ("extra", pa.string(), False, "Front-matter keys not mapped to a column, as a JSON object."),
]

ROW_SCHEMA = pa.schema([pa.field(name, typ, nullable=nullable) for name, typ, nullable, _ in COLUMNS])
# The columns set once every row has been seen (by dedup and the split), not by a file's own
# steps; the rest are a file's (FILE_COLUMNS), which a read task writes to its partition.
SET_LATER = ("dup_cluster", "split_group", "split_bucket")
FILE_COLUMNS = tuple(name for name in ROW_SCHEMA.names if name not in SET_LATER)
DESCRIPTIONS = {name: desc for name, _, _, desc in COLUMNS}


def _feature(typ: pa.DataType) -> dict:
    if pa.types.is_list(typ):
        return {"feature": _feature(typ.value_type), "_type": "Sequence"}
    return {"dtype": str(typ), "_type": "Value"}  # 'string', 'int32', 'timestamp[us, tz=UTC]'


def hf_features_dict() -> dict:
    """The `datasets` Features of ROW_SCHEMA, as the dict `datasets` stores in Parquet metadata.

    Declared here rather than asked of `datasets`: importing it cost half a second of every
    build, and its answer changes with its version (5.x says "List" where 3.x, which we
    support, knows only "Sequence"), so the same rows gave different bytes on two machines.
    Lists are written as "Sequence", which every supported version reads (newer ones as
    List); tests hold this equal to what the installed `datasets` derives from ROW_SCHEMA."""
    return {name: _feature(ROW_SCHEMA.field(name).type) for name in ROW_SCHEMA.names}


def hf_features_yaml() -> list[dict]:
    """The same Features as a dataset card's `dataset_info.features` (the YAML form)."""
    out = []
    for field in ROW_SCHEMA:
        typ = field.type
        out.append({"name": field.name, "sequence": str(typ.value_type)} if pa.types.is_list(typ)
                   else {"name": field.name, "dtype": str(typ)})
    return out


def schema_with_features() -> pa.Schema:
    """ROW_SCHEMA carrying the 'huggingface' metadata key `load_dataset` reads Features from."""
    meta = {b"huggingface": json.dumps({"info": {"features": hf_features_dict()}}).encode()}
    return ROW_SCHEMA.with_metadata(meta)
