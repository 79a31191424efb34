"""Paragraph rules gated by their literals (builder.transform.rules._literals): the same output as trying
every rule."""
from __future__ import annotations

import re

from builder.transform.rules import (_literals, _loose_start, _needs, _raw_needs, _record, apply_paragraph_rules,
                                     apply_raw_rules, load_rule_file, load_rules)


def _every_rule(paragraphs, rules, meta):
    """The plain reading: every rule that allows the length, searched in every paragraph."""
    out = []
    for para in paragraphs:
        for rx, max_chars in (p for rs in rules for p in rs.paragraph):
            if len(para) > max_chars:
                continue
            m = rx.search(para)
            if m:
                _record(meta, m.groupdict())
                para = (m.groupdict().get("keep") or "").strip()
                if not para:
                    break
        if para:
            out.append(para)
    return out


def test_literals_read_from_patterns():
    lit = lambda p, f=re.S: _literals(re.compile(p, f))  # noqa: E731
    assert lit(r"^.{0,30}(?:长按|扫描|扫码|识别)[^。！？]{0,10}二维码.{0,40}$") == {"二维码"}
    assert lit(r"^(?:转载请注明|如需转载).{0,80}$") == {"转载请注明", "如需转载"}
    assert lit(r"^a(?:bc)?d") is None             # one character: worth no search
    assert lit(r"^(?:编辑|x)：") is None            # a branch with a short side
    assert lit(r"^.*(?:二维码)?$") is None           # optional
    assert lit(r"二维码", re.S | re.I) is None       # case folded: no literal search
    assert lit(r"(?:码){2,}二维") == {"二维"}
    assert lit(r"\]\((?P<url>https?://)") == {"](http"}  # a group's literals continue the run
    assert lit(r"ab(?i:cd)") == {"ab"}              # a case-folded group ends the run
    assert _loose_start(re.compile(r"^.{0,3}x")) and _loose_start(re.compile(r"x"))
    assert _loose_start(re.compile(r"^[（(]?(?:注[：:])?[^。）]{0,12}人名"))
    assert not _loose_start(re.compile(r"^[（(]?责任编辑")) and not _loose_start(re.compile(r"^>?\s*(?:原文)"))


def test_gated_rules_give_what_every_rule_gives(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text('name = "r"\n'
                    '[[paragraph]]\npattern = \'^.{0,10}二维码(?P<keep>.*)$\'\n'
                    '[[paragraph]]\npattern = \'^.{0,10}维码关注$\'\n'        # overlaps the other's literal
                    '[[paragraph]]\npattern = \'^.{0,5}编辑[：:](?P<editor>\\S+)$\'\n', encoding="utf-8")
    rules = (*load_rules(), load_rule_file(path))
    assert {i for i, _ in _needs(rules)[2]} >= {len(_needs(rules)[0]) - 3, len(_needs(rules)[0]) - 2}
    texts = [
        ["正文第一段。", "长按识别二维码关注我们", "后文。"],
        ["扫码二维码维码关注", "正文"],
        ["正文", "本文编辑：张三", "未经授权，不得转载。", "关注微信公众号：某某"],
        ["（注：本文中的人名和作品名称不需要翻译。）后文", "责任编辑：李四 SF001", "END"],
        ["正文 二维码 正文" * 30, "x二维", "码"],
        ["© 2023 某社", "来源：新华社", "作者：王五", "图片地址：https://a.b/c.png 说明"],
    ]
    for paras in texts:
        got, want = {}, {}
        assert apply_paragraph_rules(paras, rules, got) == _every_rule(paras, rules, want), paras
        assert got == want


def test_builtin_rules_gate_only_loose_starts():
    patterns, always, gated, _, _ = _needs(load_rules())
    for i, lits in gated:
        rx = patterns[i][0]
        assert _loose_start(rx) and all(len(w) >= 2 for w in lits), rx.pattern
    assert any("二维码" in lits for _, lits in gated)


def test_raw_rules_gated_by_literals_give_what_every_rule_gives():
    rules = load_rules()
    assert {lits for _, lits in _raw_needs(rules)} >= {frozenset(["](http"]), frozenset(["news_keyword_pub,stock,"])}
    bodies = [
        "正文。来源：[新华社](https://example.com/a) 后文",
        "出典：**[Anime](https://example.jp/b)**",
        "Source: [Site](http://x.org/c)  <!-- news_keyword_pub,stock,sz002024&sh603885 -->",
        "[原文链接](https://example.com/d) and 原文链接：[e](https://example.com/e)",
        "来源：新华社 https://example.com 没有链接",
        "<p>正文：无元数据</p>",
    ]
    for body in bodies:
        got, want = {}, {}
        apply_raw_rules(body, rules, got)
        for rs in rules:
            for rx in rs.raw:
                for m in rx.finditer(body):
                    _record(want, m.groupdict())
        assert got == want, body
