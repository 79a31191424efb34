import pytest

from builder.language import detect_language


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
