import codecs

import pytest

from builder.read.decode import DecodeFailure, decode

TEXT = "---\ntitle: 台湾经济部公布出口数据\n---\n\n会议指出，今年以来工业稳增长各项政策措施持续发力。\n"


@pytest.mark.parametrize("encoding,expected", [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("utf-16", "utf-16"), ("gb18030", "gb18030"),
])
def test_detects_encoding_and_recovers_text(encoding, expected):
    text, name, low = decode(TEXT.encode(encoding))
    assert (text, name, low) == (TEXT, expected, False)


def test_big5_is_told_from_gb18030():
    traditional = "---\ntitle: 經濟部公布最新出口數據\n---\n\n經濟部今日公布，上月出口金額較去年同期成長，創下歷史新高。半導體需求強勁。"
    text, name, _ = decode(traditional.encode("big5"))
    assert name == "big5" and text == traditional


def test_gbk_title_survives():
    text, name, _ = decode("标题：人民币汇率".encode("gbk"))
    assert name == "gb18030" and text == "标题：人民币汇率"


@pytest.mark.parametrize("raw", [b"a\r\nb\rc\n", "a\r\nb\rc\n".encode("utf-16")])
def test_line_endings_normalised(raw):
    assert decode(raw)[0] == "a\nb\nc\n"


@pytest.mark.parametrize("raw,reason", [
    (b"", "empty_file"), (b"  \n\t\n", "empty_file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "binary"), (b"\x1f\x8b\x08\x00\xff", "binary"),
    (b"text with a \x00 NUL", "binary"),
])
def test_rejects(raw, reason):
    with pytest.raises(DecodeFailure) as info:
        decode(raw)
    assert info.value.reason == reason


def test_bad_bom_is_undecodable():
    with pytest.raises(DecodeFailure) as info:
        decode(codecs.BOM_UTF8 + b"\xff\xfe\xfd")
    assert info.value.reason == "undecodable"
