from builder.transform.clean import clean_body, html_to_paragraphs
from builder.transform.rules import load_rules, select

RULES = load_rules()


def rules_for(feed="", author="", body=""):
    return select(RULES, feed=feed, author=author, path="x.md", body=body)


def test_blocks_become_paragraphs_and_whitespace_collapses():
    html = "<div>\n<p>　　第一段  文字\t很长。</p><p>第二段</p>尾巴<br>另一行</div>"
    assert html_to_paragraphs(html) == ["第一段 文字 很长。", "第二段", "尾巴", "另一行"]


def test_indentation_alone_and_spaces_inside_a_line():
    # Indentation around the block marks is stripped; runs inside a line collapse to one space,
    # whether the line needs nothing else or also holds a no-break or en space at its edge.
    assert html_to_paragraphs("<div>\n   <p>\u3000\u3000甲乙</p>\n    <p>丙 丁</p></div>") == ["甲乙", "丙 丁"]
    assert html_to_paragraphs("<p>甲   乙</p><p>&#8194;丙&nbsp;&nbsp;丁 </p>") == ["甲 乙", "丙 丁"]
    assert html_to_paragraphs("<p>&#8194; 甲</p><p>乙&#1;丙</p><p> &#11; </p>") == ["甲", "乙丙"]


def test_entities_comments_and_never_text_elements():
    html = ("<div><!-- 注释 --><p>a &#123;b&#125; &amp; c&nbsp;d</p><script>x()</script><style>p{}</style>"
            "<iframe>f</iframe><noscript>n</noscript>e</div>")
    paragraphs = clean_body(html, is_html=True, rules=rules_for()).paragraphs
    assert paragraphs == ["a {b} & c d", "e"]


def test_line_breaks_in_source_separate_paragraphs():
    # 36kr-style briefs: paragraphs separated only by newlines inside one <div>.
    assert html_to_paragraphs("<div>\n第一条快讯。\n第二条快讯。\n</div>") == ["第一条快讯。", "第二条快讯。"]


def test_markdown_body():
    md = "![cover](https://x/y.jpg)\n\n## 小标题\n\n第一段 **加粗** 和 [链接](https://a)。\n续行\n\n- 项目一\n- 项目二\n"
    assert clean_body(md, is_html=False, rules=rules_for()).paragraphs == [
        "小标题", "第一段 加粗 和 链接。 续行", "项目一", "项目二"]


def test_markdown_source_link_becomes_url_metadata():
    md = "正文一段。\n\n>[原文地址](https://animeanime.jp/article/2023/05/10/1.html)  "
    cleaned = clean_body(md, is_html=False, rules=rules_for())
    assert cleaned.paragraphs == ["正文一段。"]
    assert cleaned.meta["url"] == "https://animeanime.jp/article/2023/05/10/1.html"


def test_sina_boilerplate_becomes_metadata(tmp_path):
    from pathlib import Path

    text = (Path(__file__).parent / "fixtures" / "sina_article.md").read_text(encoding="utf-8")
    body = text.split("---", 2)[2]
    cleaned = clean_body(body, is_html=True, rules=rules_for(feed="金融/新浪财经/新浪财经－国內", body=body))
    assert cleaned.paragraphs == [
        "为维护月末流动性合理充裕，人民银行今日以利率招标方式开展了逆回购操作，中标利率与此前持平。",
        "市场人士表示，月末资金面通常偏紧，{央行}适时投放有助于平抑波动。",
        "分析人士认为，后续政策仍将保持稳健，&流动性总体无忧。",
    ]
    assert cleaned.meta == {"original_title": "央行今日开展逆回购", "source": "金融时报", "editor": "张晓明",
                            "stock_codes": ["sz000001", "sh600036"]}


def test_36kr_trailing_outlet_becomes_source():
    body = "<div>   \n商务部发布消息，多方共同联署联合声明。（央视新闻）  \n</div>"
    cleaned = clean_body(body, is_html=True, rules=rules_for(feed="新媒体/36kr/快讯"))
    assert cleaned.paragraphs == ["商务部发布消息，多方共同联署联合声明。"]
    assert cleaned.meta["source"] == "央视新闻"


def test_cnbeta_related_links_dropped():
    body = ('<p>正文内容。</p><div class="article-relation"><p><strong>相关文章:</strong></p>'
            '<p><a href="https://www.cnbeta.com/a.htm">旧闻标题</a></p></div>')
    cleaned = clean_body(body, is_html=True, rules=rules_for(feed="新媒体/cnBeta/最新"))
    assert cleaned.paragraphs == ["正文内容。"]


def test_rules_do_not_apply_to_other_sites():
    # (A `来源：` line is generic since issue 20: default.toml's rule reads it on every site.)
    body = "<p>新浪财经APP</p><p>正文。</p>"
    assert clean_body(body, is_html=True, rules=rules_for(feed="新媒体/36kr/快讯")).paragraphs == ["新浪财经APP", "正文。"]


def test_very_deep_html_keeps_its_text():
    body = "<p>前文。</p>" + "<div>" * 5000 + "<p>深处的段落。</p>" + "</div>" * 5000 + "<p>后文。</p>"
    cleaned = clean_body(body, is_html=True, rules=rules_for())
    assert cleaned.paragraphs == ["前文。", "深处的段落。", "后文。"]
    assert cleaned.warnings == ["html_truncated"]


def test_control_characters_are_not_text():
    assert html_to_paragraphs("<p>a\x0bb\x1fc\x00</p><p>d</p>") == ["abc", "d"]


def test_markdown_rendering_frees_its_buffers():
    # cmarkgfm.markdown_to_html leaks the HTML it returns; ours frees it. 400 renderings of a
    # 250 KB body would hold 100 MB if it leaked.
    from builder.transform.clean import _markdown_to_html

    def rss_mb() -> float:
        with open("/proc/self/status") as fh:
            return int(fh.read().split("VmRSS:")[1].split()[0]) / 1024

    body = "\n\n".join(f"段落{i} **粗体** [链接](https://example.com/{i})" for i in range(4000))
    html = _markdown_to_html(body)
    assert html.count("<p>") == 4000 and "<strong>粗体</strong>" in html
    before = rss_mb()
    for _ in range(400):
        _markdown_to_html(body)
    assert rss_mb() - before < 40


def test_block_tag_marker_ends_a_name_at_exactly_the_whitespace_str_regexes_know():
    import re
    import sys

    from builder.transform.clean import _BLOCK_TAG_UTF8, _CONTROL_BYTES

    for cp in range(sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        encoded = ch.encode("utf-8")
        if encoded in (b"/", b">") or (len(encoded) == 1 and encoded[0] in _CONTROL_BYTES):
            continue
        marked = _BLOCK_TAG_UTF8.search(b"<p" + encoded) is not None
        assert marked == bool(re.match(r"\s", ch)), hex(cp)
    assert _BLOCK_TAG_UTF8.sub(b"\n<", b"<P>a</p><pre>b</pre><pa>c</pa><br/>") == b"\n<P>a\n</p>\n<pre>b\n</pre><pa>c</pa>\n<br/>"


def test_paragraph_rule_screen_is_exact_or_absent(tmp_path):
    from builder.transform.rules import _screens, apply_paragraph_rules, load_rule_file

    anchored = tmp_path / "a.toml"
    anchored.write_text('name = "a"\n[[paragraph]]\npattern = \'^编辑[：:](?P<editor>\\S+)$\'\n'
                        '[[paragraph]]\npattern = \'^来源：(?P<source>.+?)(?:（(?P<keep>完)）)?$\'\n', encoding="utf-8")
    loose = tmp_path / "b.toml"
    loose.write_text('name = "b"\n[[paragraph]]\npattern = \'推荐阅读\'\n', encoding="utf-8")
    a, b = (load_rule_file(anchored),), (load_rule_file(anchored), load_rule_file(loose))
    assert None not in _screens(a)[1] and None in _screens(b)[1]  # an unanchored rule: every paragraph is searched
    paras = ["正文第一段。", "编辑：张三", "来源：新华社（完）", "正文 推荐阅读 正文"]
    meta: dict = {}
    assert apply_paragraph_rules(paras, a, meta) == ["正文第一段。", "完", "正文 推荐阅读 正文"]
    assert meta == {"editor": "张三", "source": "新华社"}
    assert apply_paragraph_rules(paras, b, {}) == ["正文第一段。", "完"]


def test_a_paragraph_meets_only_the_rules_that_allow_its_length(tmp_path):
    # One screen per max_chars limit: a paragraph of n characters is screened by the rules whose
    # limit is at least n, and gets the same result as trying every rule.
    from builder.transform.rules import _screens, apply_paragraph_rules, load_rule_file

    path = tmp_path / "r.toml"
    path.write_text('name = "r"\n[[paragraph]]\npattern = \'^END$\'\nmax_chars = 3\n'
                    '[[paragraph]]\npattern = \'^注[：:]\\S+?。(?P<keep>.*)$\'\nmax_chars = 100\n'
                    '[[paragraph]]\npattern = \'^.{0,10}二维码.*$\'\nmax_chars = 20\n', encoding="utf-8")
    rules = (load_rule_file(path),)
    limits, screens = _screens(rules)
    assert limits == (3, 20, 100) and None not in screens
    long_qr = "扫描二维码" + "正文" * 20
    paras = ["END", "正文。", "扫描二维码关注", long_qr, "注：说明。后文。", "注：说明。" + "文" * 100]
    assert apply_paragraph_rules(paras, rules, {}) == ["正文。", long_qr, "后文。", "注：说明。" + "文" * 100]
