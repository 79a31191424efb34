"""The fast front-matter reader must agree with YAML's BaseLoader whenever it answers."""
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from builder.read.front_matter import fast_yaml

KEYS = st.sampled_from(["title", "date", "author", "categories", "tags", "headimg", "on", "no", "code", "a_b", "x-y"])
SCALAR_CHARS = st.one_of(
    st.sampled_from(list("abcXYZ 019:#-'\"\\,[]{}&*!|>%@`?.　中文：，“”\t\r\x85\u2028\ufeff\x07") + ["::", ": ", " #", "''"]),
    st.characters())
SCALARS = st.lists(SCALAR_CHARS, max_size=12).map("".join)


def quoted(s):
    return st.sampled_from([s, f"'{s}'", f'"{s}"', f"'{s.replace(chr(39), chr(39) * 2)}'"])


LINE = st.one_of(
    st.tuples(KEYS, SCALARS.flatmap(quoted)).map(lambda kv: f"{kv[0]}: {kv[1]}"),
    KEYS.map(lambda k: f"{k}:"),
    KEYS.map(lambda k: f"{k}: "),
    st.tuples(st.sampled_from([" ", "  ", "    ", "\t"]), SCALARS.flatmap(quoted)).map(lambda t: f"{t[0]}- {t[1]}"),
    st.just(""),
    SCALARS,
)


def base_load(text):
    try:
        return yaml.load(text, Loader=yaml.BaseLoader)
    except yaml.YAMLError:
        return "error"


@settings(max_examples=3000, deadline=None)
@given(st.lists(LINE, max_size=8).map("\n".join))
@example("title: '工信部召开会议'\ncategories: \n - 金融\n - 新浪财经\nauthor: 新浪财经\ncomments: false\n"
         "date: Fri, 25 Mar 2022 02:14:53 GMT\nthumbnail: 'https://x/y.png'")
@example("code: 000001\nflag: no\non: yes\nempty:\nlist:\n    - a\n\n    - b")
def test_fast_reader_agrees_with_yaml(text):
    fast = fast_yaml(text)
    if fast is not None:
        assert fast == (base_load(text) or {}), text


def test_fast_reader_declines_what_it_does_not_know():
    for text in ["title: a: b", "cover:\n  url: x", "tags: [a, b]", "- item", "title: 'open", "k: &a x",
                 "title: a # comment", "list:\n - a\n   - b"]:
        assert fast_yaml(text) is None, text
