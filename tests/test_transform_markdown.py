"""Markdown and HTML bodies as their sites show them: no markup left as text, no text cut off
(issue 20). Each fixture imitates a form seen in real archives."""
from __future__ import annotations

from builder.transform.clean import clean_body, html_to_paragraphs
from builder.transform.markdown import inline_leftovers, prepare, to_html
from builder.transform.rules import load_rules


def md(body: str) -> list[str]:
    return clean_body(body, is_html=False, rules=load_rules()).paragraphs


def test_an_unclosed_figcaption_keeps_the_rest_of_the_body():
    body = ("<p>开头的段落。</p><figure><img src=\"https://example.com/1.png\"><figcaption>会场外观"
            "</figure><p>第二段。</p><p>第三段。</p>")
    paragraphs = clean_body(body, is_html=True, rules=load_rules()).paragraphs
    assert paragraphs == ["开头的段落。", "会场外观", "第二段。", "第三段。"]


def test_captions_are_content():
    body = "<figure><img src=\"a.png\"><figcaption>洛杉矶位于美国西海岸</figcaption></figure><p>正文。</p>"
    assert clean_body(body, is_html=True, rules=load_rules()).paragraphs == ["洛杉矶位于美国西海岸", "正文。"]


def test_strikethrough_keeps_the_struck_words_without_tildes():
    assert md("价格是~~100元~~ 80元，时间1~3天。") == ["价格是100元 80元，时间1~3天。"]


def test_a_gfm_table_is_one_line_a_row_with_cells_tab_separated():
    body = "前文。\n\n| 排名 | 书名 | 作者 |\n| --- | --- | --- |\n| 1 | ONE PIECE | 尾田荣一郎 |\n"
    assert md(body) == ["前文。", "排名\t书名\t作者", "1\tONE PIECE\t尾田荣一郎"]


def test_an_html_table_is_one_line_a_row():
    body = ("<table><tr><th>排名</th><th>书名</th></tr><tr><td>1</td><td><b>ONE</b> PIECE</td></tr>"
            "<tr><td></td><td> </td></tr></table><p>后文。</p>")
    assert html_to_paragraphs(body) == ["排名\t书名", "1\tONE PIECE", "后文。"]


def test_emphasis_next_to_cjk_punctuation():
    # CommonMark's flanking rules refuse this closing `**` (punctuation before, a letter after).
    assert md("**这一行为是否合理？**我的回答是否定的。") == ["这一行为是否合理？我的回答是否定的。"]
    assert md("他说：“**好**”。__强调__与~~删除~~") == ["他说：“好”。强调与删除"]


def test_markdown_inside_a_raw_html_line():
    body = ("<p>第一段。</p><figure class=\"x\">![image](https://example.com/1.png)</figure>"
            "<p>见[官方网站](https://example.com/)与**重点**。</p>")
    assert md(body) == ["第一段。", "见官方网站与重点。"]


def test_a_markdown_line_right_after_an_html_line_is_markdown():
    body = "<p>第一段。</p>\n![image](https://example.com/1.png)\n## 小标题\n正文**加粗**。\n"
    assert md(body) == ["第一段。", "小标题", "正文加粗。"]


def test_html_indented_four_spaces_is_html_not_code():
    body = "前文。\n\n    <figure class=\"ctms-editor-image\"><img src=\"https://example.com/1.png\"></figure>\n\n后文。"
    assert md(body) == ["前文。", "后文。"]


def test_fenced_code_and_inline_html_in_a_paragraph_are_left_as_they_were():
    text = "```python\n<div>\nx\n```\n"
    assert prepare(text) == text
    # <img> (not a block tag) after a paragraph line is inline HTML: the paragraph stays one.
    assert md("一行文字\n<img src=\"a.png\">\n接着的文字") == ["一行文字 接着的文字"]


def test_inline_leftovers_touch_text_only():
    html = '<a href="https://x/__init__/**">**粗**</a>'
    assert inline_leftovers(html) == '<a href="https://x/__init__/**">粗</a>'
    assert "<del>" in to_html("~~删~~")


def test_a_fence_that_wraps_the_article_is_not_code():
    # A converter's wrapping: ```markdown (or a bare fence around HTML) round the whole text.
    assert md("```markdown\n![image](https://example.com/1.png)\n\n## 小标题\n\n正文。\n```\n\n后记。") == [
        "小标题", "正文。", "后记。"]
    assert md("```\n<p>第一段。</p>\n<p>第二段。</p>\n```\n后记。") == ["第一段。", "第二段。", "后记。"]
    assert md("```python\nprint(1)\n```") == ["print(1)"]


def test_a_link_cut_off_before_its_parenthesis_keeps_its_text():
    assert md("- [Ghost Trick](https://example.com/ghost\n# 游戏推荐") == ["Ghost Trick", "游戏推荐"]


def test_markdown_emphasis_pasted_into_an_html_body():
    body = "<p>来自**One Piece**的公主，于**2026年4月12日**起播出。</p>"
    assert clean_body(body, is_html=True, rules=load_rules()).paragraphs == ["来自One Piece的公主，于2026年4月12日起播出。"]


def test_a_broken_pair_of_stars_leaves_no_delimiter():
    # An edit broke a pair (`*One Piece**`): the pairs are taken, the `**` left against CJK goes;
    # between ASCII digits or spaces it stays.
    body = "<p>来自*One Piece**，公主**Vivi**以华丽的形象登场，4月12日**起播出。</p><p>算式 2**10。</p><p>a ** b</p>"
    assert clean_body(body, is_html=True, rules=load_rules()).paragraphs == [
        "来自*One Piece，公主Vivi以华丽的形象登场，4月12日起播出。", "算式 2**10。", "a ** b"]


def test_prepare_skips_only_texts_it_would_leave_alone(monkeypatch):
    # _MAY_PREPARE lets a text without fences skip the line pass: a superset of what the pass
    # changes. Random texts made of the lines that matter give the same with and without it.
    import random
    import re

    from builder.transform import markdown

    pieces = ["<p>段落。</p>", "    <figure><img src=\"a.png\"></figure>", "\t<div>", "  <img src=\"b.png\">", "正文一行",
              "![image](https://example.com/1.png)", "", "  ", "\u3000正文", "<3 不是标签", "</div>", "<!-- 注 -->",
              "<span>内联</span>文字", "# 标题", "   <p>三格缩进</p>", " \t<p>", "文字<br>", "\r", "<p>\r", "<pre>"]
    rng = random.Random(20)
    texts = ["\n".join(rng.choice(pieces) for _ in range(rng.randint(1, 8))) for _ in range(3000)]
    skipped = [t for t in texts if "<" in t and markdown._MAY_PREPARE.search("\n" + t) is None]
    gated = [markdown.prepare(t) for t in texts]
    monkeypatch.setattr(markdown, "_MAY_PREPARE", re.compile(""))  # every text takes the line pass
    assert [markdown.prepare(t) for t in texts] == gated
    assert len(skipped) > 100  # texts with HTML that skip the pass
