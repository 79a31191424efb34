import pytest

from builder.transform.language import detect_language


@pytest.mark.parametrize("text,lang", [
    ("会议指出，今年以来工业稳增长各项政策措施持续发力。", "zh"),
    ("アニメの新作が発表されました。ファンの期待が高まっています。", "ja"),
    ("새로운 애니메이션이 발표되었습니다.", "ko"),
    ("The central bank said on Monday that it will keep rates unchanged for the rest of the year.", "en"),
    ("Der Vorstand hat heute die Zahlen vorgelegt und bleibt optimistisch.", "other"),
    ("12345 !!!", "other"),
    ("中国队以3:1战胜日本队，Messi未出场。", "zh"),
])
def test_detect(text, lang):
    assert detect_language(text) == lang


def test_script_counts_match_the_unicode_ranges():
    from builder.transform.language import script_counts

    # Han (incl. extension A and compatibility), kana (incl. half-width), hangul (syllables,
    # jamo, compatibility jamo), ASCII letters; the code points either side of each range.
    text = "\u3400\u4dbf\u4e00\u9fff\uf900\ufaff" + "\u3040\u30ff\u31f0\u31ff\uff66\uff9f" + \
           "\uac00\ud7af\u1100\u11ff\u3130\u318f" + "AZaz" + "\u33ff\u4dc0\ua000\ufb00\u3100\u3200\uffa0@[`{"
    assert script_counts(text) == (6, 6, 6, 4)
    assert script_counts("") == (0, 0, 0, 0)
