#!/usr/bin/env python3
"""Sina-format article files for benchmarks, from the bundled sample corpus's own sentences.

    gen_corpus.py OUT_DIR --n 20000 [--seed 1]

Used when ../shared/tools/make_corpus.py is absent (a user's clone). Each file is a Hexo post
as the RSSHub archiver writes it: front matter, <p> paragraphs with U+3000 indentation, the
QR promo tail and an editor line. Same arguments, same bytes. Standard library only.
"""
import argparse
import random
import re
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "builder" / "sample"
TAIL = ('\n<!-- news_keyword_pub,stock, -->\n<!-- 文末二维码 start -->\n<style>.appendQr_wrap&#123;border:1px solid '
        '#E6E6E6;&#125;</style>\n<div class="clearfix appendQr_wrap"><div class="appendQr_normal_txt">'
        '海量资讯、精准解读，尽在新浪财经APP</div></div>\n<!-- 文末二维码 start -->\n'
        '<p class="article-editor">责任编辑：{editor} </p>\n')
DAYS, MONTHS = "Mon Tue Wed Thu Fri Sat Sun".split(), "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def sentences() -> list[str]:
    out = set()
    for path in sorted(SAMPLE.rglob("*.md")):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        text = re.sub(r"<[^>]+>|&#\d+;|\{[^}]*\}", "", text)
        out.update(s for s in re.findall(r"[^。！？\n]{8,80}[。！？]", text) if re.search(r"[\u4e00-\u9fff]", s))
    return sorted(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng, sents = random.Random(args.seed), sentences()
    root = Path(args.out) / "source" / "_posts" / "金融" / "新浪财经" / "新浪财经－国內"
    root.mkdir(parents=True, exist_ok=True)
    for i in range(args.n):
        ts = rng.randrange(1546300800, 1735689600)
        import time as _t
        t = _t.gmtime(ts)
        date = "%s, %02d %s %d %s GMT" % (DAYS[t.tm_wday], t.tm_mday, MONTHS[t.tm_mon - 1], t.tm_year,
                                          _t.strftime("%H:%M:%S", t))
        title = f"{rng.choice(sents)[:20]}（{i}）"
        paras = ["".join(rng.choice(sents) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(3, 9))]
        body = "\n".join(f'<p cms-style="font-L">\u3000\u3000{p}</p>' for p in paras)
        text = (f"\n---\ntitle: '{title}'\ncategories: \n - 金融\n - 新浪财经\n - 新浪财经－国內\n"
                f"headimg: 'https://n.sinaimg.cn/finance/cece9e13/20200514/343233024.png'\nauthor: 新浪财经\n"
                f"comments: false\ndate: {date}\n---\n\n<div>   \n{body}{TAIL.format(editor=rng.choice(['王翔', '李墨轩', '张亚楠']))}"
                "  \n</div>\n")
        (root / f"{i:07d}.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
