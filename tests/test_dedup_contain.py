"""Contained copies (builder/dedup/contain.py): a brief inside a longer article joins its cluster."""
from datetime import datetime, timezone

import numpy as np

from builder.dedup import DedupIndex, DedupSettings, contain, content_sha256, date_key, signatures
from test_dedup import SENTENCES, body

S = DedupSettings()
ARTICLE = body(0, 1, 2, 3, 8, 9, 10, 11, 12, 13)


def run(rows, settings=S):
    """rows: (id, text, date) -> {id: DupResult}, with the containment check."""
    index = DedupIndex(settings)
    ids, texts, dates = zip(*rows)
    index.add_many(ids, [content_sha256(t) for t in texts], signatures(texts, settings),
                   date_keys=[date_key(d) for d in dates], n_chars=[len(t) for t in texts])
    verified = contain.verify_texts(index.containment_candidates(), list(texts).__getitem__, settings)
    try:
        return {r.id: r for r in index.results(verified)}
    finally:
        index.close()


def day(n):
    return datetime(2022, 3, n, tzinfo=timezone.utc)


def test_a_brief_joins_its_article_which_is_kept_even_when_later():
    brief = "【快讯】" + body(8, 9)
    res = run([("article", ARTICLE, day(5)), ("brief", brief, day(1)), ("other", body(4, 5, 6, 7), day(1))])
    assert res["brief"].dup_cluster == "article" and res["brief"].reason == "contained"
    assert not res["brief"].keep and res["brief"].duplicate_of == "article"
    assert res["brief"].similarity >= S.containment_threshold
    assert res["article"].keep and res["other"].keep and res["other"].dup_cluster == "other"


def test_keep_duplicates_keeps_and_flags_the_brief():
    res = run([("article", ARTICLE, day(5)), ("brief", body(8, 9), day(1))], DedupSettings(keep_duplicates=True))
    assert res["brief"].keep and res["brief"].reason == "contained" and res["brief"].dup_cluster == "article"


def test_a_shared_standard_sentence_or_paragraph_is_not_a_contained_copy():
    one_liner = SENTENCES[4][:20]  # shorter than min_contained_chars
    story_a = body(0, 1, 2, 5)       # two different stories sharing one paragraph (5)
    story_b = body(10, 11, 12, 13, 5)
    res = run([("a", story_a, day(1)), ("b", story_b, day(1)), ("line", one_liner, day(1)),
               ("article", ARTICLE, day(1))])
    assert {r.dup_cluster for r in res.values()} == {"a", "b", "line", "article"}


def test_a_brief_in_two_unrelated_articles_joins_one_only():
    first, second = body(8, 9, 0, 1, 2), body(8, 9, 12, 13, 14, 15)
    res = run([("x", first, day(1)), ("y", second, day(1)), ("brief", body(8, 9), day(1))])
    assert res["x"].dup_cluster != res["y"].dup_cluster
    assert res["brief"].dup_cluster in ("x", "y")


def test_containment_is_exact_over_shingles():
    short, long = contain.shingle_set(body(8), S), contain.shingle_set(body(0, 8, 9), S)
    assert contain.containment(short, long) == 1.0
    assert contain.containment(long, short) < 0.5
    assert contain.containment(np.empty(0, np.uint64), long) == 0.0
