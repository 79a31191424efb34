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
