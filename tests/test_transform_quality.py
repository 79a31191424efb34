import pytest

from builder.errors import ConfigError
from builder.transform.quality import QualitySettings, check

Q = QualitySettings()
ARTICLE = ("3月24日，工业和信息化部召开重点行业运行形势分析座谈会，研判当前工业经济形势，部署疫情防控和工业稳增长工作。"
           "\n\n会议指出，今年以来工业稳增长各项政策措施持续发力，前2个月工业经济运行情况好于预期，实现了良好开局。")
TITLE = "工信部召开重点行业运行形势分析座谈会"


def reason(title, text, language="zh", settings=Q):
    verdict = check(title, text, language, settings)
    if verdict is not None:
        code, message = verdict
        assert message  # every reject says why, for a person
        return code
    return None


def test_a_real_article_passes():
    assert check(TITLE, ARTICLE, "zh", Q) is None


@pytest.mark.parametrize("title,text", [
    ("404 Not Found", "404 Not Found\n\nnginx"),
    ("某新闻", "Request failed with status code 404"),
    ("Error", "Request failed with status code 502"),
    ("页面", "抱歉，您访问的页面不存在"),
    ("Just a moment...", "Checking your browser before accessing. Just a moment..."),
])
def test_error_pages(title, text):
    assert reason(title, text) == "error_page"


def test_a_long_article_about_an_error_is_not_an_error_page():
    text = ARTICLE + "\n\n网站一度显示“404 Not Found”，随后恢复。" + ARTICLE * 5
    assert reason("网站宕机事件回顾", text) is None


@pytest.mark.parametrize("title,text", [
    ("替换为中文标题", ARTICLE),
    ("{TITLE}", ARTICLE),
    ("新闻", "{CONTENT}"),
    ("新闻", "日期为YYYY-MM-DDThh:mm:ssZ\n\n替换为中文描述\n\n" + ARTICLE),
    ("{{ title }}", "{{ body }}"),
])
def test_unfilled_templates(title, text):
    assert reason(title, text) == "template"


def test_one_stray_placeholder_in_a_long_article_is_kept():
    assert reason(TITLE, ARTICLE + "\n\n{CONTENT}\n\n" + ARTICLE * 2) is None


@pytest.mark.parametrize("text", [TITLE, f"　　{TITLE}。", f"{TITLE}\n\n{TITLE}", f"{TITLE}\n\n原文链接", "工信部召开"])
def test_body_that_only_repeats_the_title(text):
    assert reason(TITLE, text) == "title_only"


def test_title_plus_real_text_is_not_title_only():
    assert reason(TITLE, TITLE + "\n\n" + ARTICLE) is None


def test_too_short():
    assert reason(TITLE, "今日休市。") == "too_short"
    assert reason(TITLE, "今日休市。", settings=QualitySettings(min_chars=0)) is None
    assert reason(TITLE, ARTICLE, settings=QualitySettings(min_chars=10_000)) == "too_short"


def test_language_allow_list():
    zh_only = QualitySettings(languages=("zh",))
    assert reason(TITLE, ARTICLE, "zh", zh_only) is None
    assert reason("Stocks rally", "Stocks rallied on Friday as the market " * 3, "en", zh_only) == "language"
    assert reason("Stocks rally", "Stocks rallied on Friday as the market " * 3, "en") is None
    assert QualitySettings(languages=["ZH", "en"]).languages == ("zh", "en")


def test_each_filter_can_be_switched_off():
    off = QualitySettings(error_pages=False, templates=False, title_only=False, min_chars=0)
    for title, text in [("x", "Request failed with status code 404"), ("替换为中文标题", ARTICLE), (TITLE, TITLE)]:
        assert check(title, text, "zh", off) is None


def test_error_page_wins_over_too_short():
    assert reason("x", "404 Not Found") == "error_page"


@pytest.mark.parametrize("kwargs", [dict(min_chars=-1), dict(languages="zh"), dict(languages=()),
                                    dict(title_only_min_extra=-1)])
def test_bad_settings_fail_at_construction(kwargs):
    with pytest.raises(ConfigError):
        QualitySettings(**kwargs)


def test_settings_record():
    assert QualitySettings(languages=("zh",)).to_dict()["languages"] == ["zh"]


# Every placeholder _TEMPLATE can match contains one of _TEMPLATE_HINTS, the cheap substring
# tests that skip the regex: a text the hints miss must be a text the regex misses too.
@pytest.mark.parametrize("text", [
    "{TITLE}", "{{ title }}", "${author.name}", "替换为中文标题", "YYYY-MM-DD", "在此输入正文", "在此处填写",
    "请输入标题", "请填写内容", "Lorem ipsum dolor sit amet",
])
def test_template_hints_cover_every_placeholder_kind(text):
    from builder.transform.quality import _TEMPLATE, _TEMPLATE_HINTS

    assert _TEMPLATE.search(text)
    assert any(h in text for h in _TEMPLATE_HINTS)


def test_template_hints_are_in_step_with_the_regex():
    from hypothesis import given, settings, strategies as st

    from builder.transform.quality import _TEMPLATE, _TEMPLATE_HINTS

    pieces = st.sampled_from(["{", "}", "$", "_", "A", "Z", "9", " ", ".", "替换为", "中文", "YYYY-MM-DD",
                              "在此", "处", "输入", "填写", "请", "标题", "Lorem ipsum dolor", "x", "{{", "}}"])

    @settings(max_examples=500, deadline=None)
    @given(st.lists(pieces, max_size=12).map("".join))
    def prop(text):
        if _TEMPLATE.search(text):
            assert any(h in text for h in _TEMPLATE_HINTS), text

    prop()


# _error_text skips _ERROR_TEXT on a text with neither five letters in a row nor one of
# _ERROR_PHRASES: every match must hold one, as IGNORECASE reads letters.
def test_error_letters_are_what_ignorecase_takes_for_a_letter():
    import re
    import sys

    from builder.transform.quality import _LETTER

    folded = {chr(c) for c in range(0x80, sys.maxunicode + 1)
              if not 0xD800 <= c <= 0xDFFF and re.fullmatch("[a-z]", chr(c), re.I)}
    assert folded == {c for c in map(chr, range(0x80, sys.maxunicode + 1)) if re.fullmatch(_LETTER, c)}


@pytest.mark.parametrize("text", [
    "Request failed with status code 404", "404 Not Found", "503 Service Temporarily Unavailable", "504 Gateway Time-out",
    "429 Too Many Requests", "400 Bad Request", "Page Not Found", "ACCESS DENIED", "Attention Required! | Cloudflare",
    "Just a moment...", "nginx/1.2", "页面不存在", "找不到该页面", "您所访问的页面已删除", "网页无法访问", "404错误",
    "Acce\u017f\u017f Den\u0131ed", "404 Forb\u0130dden",
])
def test_error_prefilter_lets_every_error_text_through(text):
    from builder.transform.quality import _ERROR_TEXT, _error_text

    assert _ERROR_TEXT.search(text) and _error_text(text).group(0) == _ERROR_TEXT.search(text).group(0)


def test_error_prefilter_gives_what_the_regex_gives():
    from hypothesis import given, settings, strategies as st

    from builder.transform.quality import _ERROR_TEXT, _error_text

    pieces = st.sampled_from(["404", "5", " ", "\u3000", "Not", "Found", "found", "Forbidden", "nginx/", "1", "Just a",
                              " moment...", "页面", "不存在", "网页无法访问", "错误", "Acc", "ess", "Denied", "\u0131",
                              "\u017f", "\u212a", "\u0130", "正文", "Request failed with status code "])

    @settings(max_examples=800, deadline=None)
    @given(st.lists(pieces, max_size=10).map("".join))
    def prop(text):
        want, got = _ERROR_TEXT.search(text), _error_text(text)
        assert (want and want.group(0)) == (got and got.group(0)), text

    prop()
