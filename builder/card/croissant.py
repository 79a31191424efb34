"""croissant.json: Croissant 1.0 metadata (JSON-LD) for a built dataset folder.

It lists every Parquet shard with its sha256, one record set with a field per column of
ROW_SCHEMA, and the splits (a `cr:Split` record set that each row's `split` field,
read from its shard's name, refers to), so ML tools can find, check and read the data
without this project. `croissant_metadata` is pure; `data_files` hashes the shards.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pyarrow as pa

from ..schema import DESCRIPTIONS, ROW_SCHEMA

CONFORMS_TO = "http://mlcommons.org/croissant/1.0"
RECORD_SET = "default"
SPLITS_RECORD_SET = "splits"
FILE_SET = "parquet-files"
PARQUET = "application/x-parquet"

# The standard Croissant 1.0 @context (as in the spec's examples and mlcroissant's own).
CONTEXT: dict = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}


@dataclass(frozen=True)
class DataFile:
    """One file of the dataset: its path within the folder ('/'-separated), sha256 and size."""

    path: str
    sha256: str
    size: int


def data_files(folder: str | Path) -> list[DataFile]:
    """The Parquet shards under folder/data (and its subset folders, data/<subset>/), sorted by
    path, with their sha256 and size."""
    folder = Path(folder)
    files = []
    for path in sorted((folder / "data").rglob("*.parquet")):
        with open(path, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        files.append(DataFile(path.relative_to(folder).as_posix(), digest, path.stat().st_size))
    return files


def field_type(typ: pa.DataType) -> tuple[str, bool]:
    """(Croissant dataType, repeated) for an Arrow type; a list is its item type, repeated."""
    if pa.types.is_list(typ) or pa.types.is_large_list(typ):
        item, repeated = field_type(typ.value_type)
        if repeated:
            raise ValueError(f"nested lists have no Croissant 1.0 field type: {typ}")
        return item, True
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return "sc:Text", False
    if pa.types.is_boolean(typ):
        return "sc:Boolean", False
    if pa.types.is_integer(typ):
        return "sc:Integer", False
    if pa.types.is_floating(typ):
        return "sc:Float", False
    if pa.types.is_timestamp(typ):
        return "sc:DateTime", False
    if pa.types.is_date(typ):
        return "sc:Date", False
    raise ValueError(f"no Croissant field type for Arrow type {typ}")


def croissant_metadata(files: Sequence[DataFile], *, splits: Sequence[str], name: str, description: str = "",
                       license: str | Sequence[str] | None = None, url: str | None = None,
                       version: str | None = None, cite_as: str | None = None, keywords: Iterable[str] = (),
                       languages: Iterable[str] = (), schema: pa.Schema = ROW_SCHEMA,
                       descriptions: Mapping[str, str] = DESCRIPTIONS, base_url: str | None = None) -> dict:
    """The Croissant 1.0 JSON-LD dict for Parquet shards named data/{split}-{i:05d}-of-{n:05d}.parquet
    (or data/{subset}/{split}-..., a subset build's: every file then in a subset folder).

    `splits` are the split names, in order (the names of the shards' splits); each field
    reads its column from every shard, and `split` is taken from the shard's name. A shard's
    contentUrl is its path within the folder, or `base_url` + that path (a release's download
    link, e.g. `https://huggingface.co/datasets/owner/name/resolve/v1.0.0/`); its `@id` and
    `name` stay the path.
    """
    distribution: list[dict] = [
        {"@type": "cr:FileObject", "@id": f.path, "name": f.path, "contentUrl": (base_url or "") + f.path,
         "contentSize": f"{f.size} B", "encodingFormat": PARQUET, "sha256": f.sha256}
        for f in files
    ]
    nested = any(f.path.count("/") > 1 for f in files)  # data/<subset>/<shard>
    distribution.append({
        "@type": "cr:FileSet", "@id": FILE_SET, "name": FILE_SET,
        "description": "The Parquet shards of every split: data/{split}-{i:05d}-of-{n:05d}.parquet." if not nested
        else "The Parquet shards of every subset and split: data/{subset}/{split}-{i:05d}-of-{n:05d}.parquet.",
        "encodingFormat": PARQUET, "includes": "data/*/*.parquet" if nested else "data/*.parquet"})

    split_key = f"{SPLITS_RECORD_SET}/split_name"
    names = "|".join(re.escape(s) for s in splits)
    fields = [] if not splits else [{
        "@type": "cr:Field", "@id": f"{RECORD_SET}/split", "name": "split",
        "description": "The split the row belongs to, from its shard's file name.", "dataType": "sc:Text",
        "source": {"fileSet": {"@id": FILE_SET}, "extract": {"fileProperty": "fullpath"},
                   # The regex also matches the bare split name: mlcroissant applies it again
                   # after joining with the splits record set, and a path-only regex then
                   # logs a warning for every row.
                   "transform": {"regex": rf"(?:data/[^/]+/)?({names})(?:-[^/]+\.parquet)?$" if nested
                                 else rf"(?:data/)?({names})(?:-.+\.parquet)?$"}},
        "references": {"field": {"@id": split_key}},
    }]
    for column in schema:
        data_type, repeated = field_type(column.type)
        field = {"@type": "cr:Field", "@id": f"{RECORD_SET}/{column.name}", "name": column.name,
                 "description": descriptions.get(column.name, ""), "dataType": data_type,
                 "source": {"fileSet": {"@id": FILE_SET}, "extract": {"column": column.name}}}
        if repeated:
            field["repeated"] = True
        fields.append(field)

    record_sets = [] if not splits else [
        {"@type": "cr:RecordSet", "@id": SPLITS_RECORD_SET, "name": SPLITS_RECORD_SET,
         "description": "The splits of the dataset.", "dataType": "cr:Split", "key": {"@id": split_key},
         "field": [{"@type": "cr:Field", "@id": split_key, "name": "split_name", "dataType": "sc:Text"}],
         "data": [{split_key: s} for s in splits]}]
    record_sets.append({"@type": "cr:RecordSet", "@id": RECORD_SET, "name": RECORD_SET,
                        "description": "One row per article.", "key": {"@id": f"{RECORD_SET}/id"}, "field": fields})
    meta: dict = {"@context": CONTEXT, "@type": "sc:Dataset", "conformsTo": CONFORMS_TO, "name": name}
    optional = {"description": description or None, "license": license or None, "url": url,
                "version": version, "citeAs": cite_as or None, "keywords": list(keywords) or None,
                "inLanguage": list(languages) or None}
    meta.update({k: v for k, v in optional.items() if v is not None})
    meta["distribution"] = distribution
    meta["recordSet"] = record_sets
    return meta


def croissant_identity(data: bytes) -> str:
    """croissant.json without what a release writes into it (its version and URL, the shards'
    download links): two releases of the same files have the same identity."""
    import json

    try:
        doc = json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")
    if isinstance(doc, dict):
        doc.pop("version", None)
        doc.pop("url", None)
        for entry in doc.get("distribution") or []:
            if isinstance(entry, dict) and "://" in str(entry.get("contentUrl", "")):
                entry["contentUrl"] = entry.get("@id")
    return json.dumps(doc, sort_keys=True, ensure_ascii=False)
