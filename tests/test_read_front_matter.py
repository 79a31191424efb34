import time

import pytest

from builder.read.front_matter import FrontMatterTooLarge, lenient, parse


def test_yaml_scalars_stay_strings():
    fm = parse("\n---\ncode: 000001\nmode: 0700\nflag: no\non: yes\ndate: 2021-11-26 07:21:47\n---\nbody")
    assert fm.format == "yaml" and fm.warnings == []
    assert fm.meta == {"code": "000001", "mode": "0700", "flag": "no", "on": "yes", "date": "2021-11-26 07:21:47"}
    assert fm.body.strip() == "body"


def test_hexo_shape_with_trailing_space_and_list():
    text = "\n---\ntitle: '标题'\ncategories: \n - 金融\n - 新浪财经\nauthor: 新浪财经\n---\n\n<div>x</div>"
    fm = parse(text)
    assert fm.meta["categories"] == ["金融", "新浪财经"] and fm.meta["title"] == "标题"


def test_toml_and_json():
    toml = parse('+++\ntitle = "T"\ncount = 7\ndate = 2024-01-02T03:04:05Z\ntags = ["a", "b"]\n+++\nbody')
    assert toml.format == "toml"
    assert toml.meta == {"title": "T", "count": "7", "date": "2024-01-02T03:04:05+00:00", "tags": ["a", "b"]}
    js = parse('{\n"title": "J", "n": 1, "ok": true\n}\nbody text')
    assert js.format == "json" and js.meta == {"title": "J", "n": "1", "ok": "true"}
    assert js.body.strip() == "body text"


def test_invalid_yaml_recovered_line_by_line_with_warning():
    text = ("---\ntitle: @大道无形 说: 市场\ncategories:\n    - 金融\n\n    - 财经\nthumbnail:\n"
            "date: 2021-11-26 07:21:47\n---\nbody")
    fm = parse(text)
    assert fm.format == "lenient" and fm.warnings == ["frontmatter_lenient"]
    assert fm.meta["title"] == "@大道无形 说: 市场"
    assert fm.meta["categories"] == ["金融", "财经"]
    assert fm.meta["thumbnail"] == "" and fm.meta["date"] == "2021-11-26 07:21:47"


def test_unterminated_front_matter_ends_at_first_non_key_line():
    fm = parse("\n---\ntitle: 'x'\nauthor: y\n\n<div>body</div>\n")
    assert fm.warnings == ["frontmatter_unterminated"]
    assert fm.meta == {"title": "x", "author": "y"} and "<div>body</div>" in fm.body


@pytest.mark.parametrize("line,value", [
    ("title: 'it''s'", "it's"), ('title: "say \\"hi\\""', 'say "hi"'), ("title: 'unbalanced", "unbalanced"),
    ('title: "a"\'b\'', "\"a\"'b'"), ("title:\tx", "x"),
])
def test_lenient_unquoting(line, value):
    assert lenient(line)["title"] == value


def test_lenient_tab_indented_list_and_flow_list_and_nested_map():
    meta = lenient("tags: ['a', \"b\", c]\ncategories:\n\t- x\n\t- y\ncover:\n  url: 'u'\n  alt: a")
    assert meta == {"tags": ["a", "b", "c"], "categories": ["x", "y"], "cover": {"url": "u", "alt": "a"}}


def test_alias_bomb_is_bounded_and_recovered():
    bomb = ['lol0: &a0 "lol"'] + [f"lol{k}: &a{k} [{', '.join([f'*a{k-1}'] * 9)}]" for k in range(1, 10)]
    text = "---\ntitle: 'Real title'\ndate: 2022-01-01\n" + "\n".join(bomb) + "\n---\nbody"
    t0 = time.perf_counter()
    fm = parse(text)
    assert time.perf_counter() - t0 < 2
    assert fm.warnings == ["frontmatter_alias_limit"]
    assert fm.meta["title"] == "Real title" and fm.meta["date"] == "2022-01-01"


def test_benign_alias_is_fine():
    fm = parse("---\nbase: &b x\ncopy: *b\n---\nbody")
    assert fm.meta == {"base": "x", "copy": "x"} and fm.warnings == []


def test_no_front_matter():
    fm = parse("# Heading\n\ntext")
    assert fm.format == "none" and fm.meta == {} and fm.body == "# Heading\n\ntext"


def test_front_matter_size_limit():
    with pytest.raises(FrontMatterTooLarge):
        parse("---\ntitle: " + "x" * 5000 + "\n---\nbody", max_bytes=1000)
