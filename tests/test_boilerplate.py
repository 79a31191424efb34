"""Generic boilerplate (builder/rules/default.toml) on a site with no rule file of its own, the
metadata any site gives in its body, and untitled articles (issue 20). Fixtures imitate real
forms; content that only looks like boilerplate stays."""
from __future__ import annotations

from builder.transform.process import process_file
from builder.transform.title import title_from_text
from builder.transform.clean import clean_body
from builder.transform.rules import load_rules, select
from builder.settings import BuildSettings

S = BuildSettings()


def generic(paragraphs: list[str]) -> tuple[list[str], dict]:
    rules = select(load_rules(), feed="某站/新闻", author="", path="blog/posts/a.md", body="")
    cleaned = clean_body("".join(f"<p>{p}</p>" for p in paragraphs), is_html=True, rules=rules)
    return cleaned.paragraphs, cleaned.meta


def test_generic_boilerplate_goes_and_the_story_stays():
    story = "这是正文，讲述了一次发布会。"
    lines = [story, "长按识别二维码，关注我们", "欢迎关注微信公众号：某某日报", "版权声明：本文版权归原作者所有。",
             "本文为原创，未经授权不得转载。", "转载请注明出处", "（C）某制作委员会／某出版社", "©2023 Example Inc.",
             "图片地址：https://example.com/img/1.jpg", "（图片来源：https://example.com/a.jpg 和 https://example.com/b.jpg）",
             "（图片来源：官方网站）", "** END **", "undefined", "注：本文中的人名和作品名称不需要翻译。",
             "以上是对文章的处理结果，已将HTML转换为Markdown格式，并进行了中文翻译。"]
    assert generic(lines)[0] == [story]


def test_a_converter_credit_goes_and_the_text_after_it_in_its_paragraph_stays():
    lines = ["注：本文中的人名和作品名称不需要翻译。预计发售日期为2023年12月。",
             "以上是对文章的处理结果，已将HTML转换为Markdown格式，并进行了中文翻译。第一季于10月播出。",
             "首先，让我们将HTML转换为Markdown格式，保留图片地址：", "文章翻译完毕，排版优化后的中文文本如上所示"]
    assert generic(lines)[0] == ["预计发售日期为2023年12月。", "第一季于10月播出。"]
    # A story's sentence about translating stays.
    story = ["接下来，他将负责该作品的翻译工作。", "以上是她翻译的第三部小说。"]
    assert generic(story)[0] == story


def test_text_after_an_image_address_stays():
    assert generic(["图片地址：https://example.com/1.jpg 我们询问了比赛的想法。"])[0] == ["我们询问了比赛的想法。"]


def test_editor_source_and_author_lines_become_metadata():
    paragraphs, meta = generic(["正文。", "来源：某某新闻网", "作者：《某人》", "（责任编辑：王五 AB123）"])
    assert paragraphs == ["正文。"]
    assert (meta["source"], meta["author"], meta["editor"]) == ("某某新闻网", "某人", "王五")


def test_look_alikes_stay():
    # A staff-credits list with an 编辑 role, an interview's 编辑 turn, a story about QR codes,
    # a sentence that ends with a credit: content, not boilerplate.
    lines = ["导演：某甲", "编辑：某乙", "音乐：某丙", "编辑：我认为这部作品的画面很有特色，您怎么看？",
             "支付宝推出了新的二维码收款方式，商户只需长按即可识别，这项功能将于下月上线，覆盖全国三百多个城市的商户。",
             "模型售价1,980日元（C）某出版社"]
    assert generic(lines)[0] == lines


def test_an_attribution_link_gives_the_url_and_the_source():
    body = "---\ntitle: 标题\n---\n\n正文第一段，讲述了一次发布会的经过和细节。\n\n资料来源：[Example News](https://news.example.com/a/1) via 某站\n"
    r = process_file("blog/posts/a.md", body.encode(), S).row
    assert r["url"] == "https://news.example.com/a/1" and r["source"] == "Example News via 某站"
    assert r["text"] == "正文第一段，讲述了一次发布会的经过和细节。"


def test_more_lead_image_keys():
    body = "---\ntitle: 标题\nimage_feature: https://example.com/lead.jpg\n---\n\n正文第一段，足够长的文字，讲述了一次发布会的经过。\n"
    r = process_file("blog/posts/a.md", body.encode(), S).row
    assert r["image_url"] == "https://example.com/lead.jpg" and "image_feature" not in r["extra"]


def test_an_untitled_article_takes_its_first_sentence_as_title():
    text = "任天堂宣布了新的游戏发布计划。" + "这是正文的其余部分，讲述了发布会的细节。" * 12
    result = process_file("posts/202306301020.md", text.encode(), S)
    assert result.row["title"] == "任天堂宣布了新的游戏发布计划。"
    assert "title_from_text" in result.row["warnings"] and result.row["text"] == text


def test_an_untitled_fragment_is_still_no_title():
    assert process_file("x.md", "只有一行没有标题的文字。".encode(), S).reject.reason == "no_title"


def test_title_from_text_is_bounded():
    assert title_from_text("a" * 100) == "a" * 63 + "…"
    assert title_from_text("First sentence. Second one.") == "First sentence."
    assert title_from_text("没有句号的一行") == "没有句号的一行"
