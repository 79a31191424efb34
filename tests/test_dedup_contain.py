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
               ("article", body(3, 4, 6, 7, 14, 15), day(1))])
    assert {r.dup_cluster for r in res.values()} == {"a", "b", "line", "article"}


def test_a_brief_found_as_much_in_two_stories_joins_neither_and_a_clear_best_wins():
    # A passage two unrelated stories both hold is a standard one: joining either would bridge
    # or mislabel them. When one story holds it clearly better, the brief joins that one.
    first, second = body(8, 9, 0, 1, 2), body(8, 9, 12, 13, 14, 15)
    res = run([("x", first, day(1)), ("y", second, day(1)), ("brief", body(8, 9), day(1))])
    assert {r.dup_cluster for r in res.values()} == {"x", "y", "brief"}
    partial = body(8, 12, 13, 14, 15) + SENTENCES[9][:12]
    res = run([("x", first, day(1)), ("y", partial, day(1)), ("brief", body(8, 9), day(1))])
    assert res["brief"].dup_cluster == "x" and res["y"].dup_cluster == "y"


def test_a_reworded_brief_is_contained_but_its_sentences_scattered_are_not():
    # The article's version of the passage has a few words inserted (the brief cut them), as
    # the LPR pair of issue 21: about 0.75 of the brief's shingles, all in one stretch.
    brief = SENTENCES[4] + SENTENCES[5]
    passage = (SENTENCES[4].replace("开展了", "开展了7天期") + "据了解，"
               + SENTENCES[5].replace("此举", "此举主要"))
    article = body(0, 1, 2) + "\n\n" + passage + "\n\n" + body(10, 11, 12)
    short = contain.shingle_set(brief, S)
    share = contain.containment(short, contain.shingle_set(article, S))
    assert 0.7 <= share < 0.9
    res = run([("article", article, day(2)), ("brief", brief, day(1))])
    assert res["brief"].dup_cluster == "article" and res["brief"].reason == "contained"
    # The same two sentences, far apart in a long article: no stretch holds the brief.
    scattered = body(4, 0, 1, 2, 3, 10, 11, 12, 13, 14, 15, 5)
    assert contain.containment(short, contain.shingle_set(scattered, S)) >= 0.9
    assert contain.windowed_containment(short, contain.shingle_seq(scattered, S), contain.window_of(short, S)) < 0.7
    res = run([("article", scattered, day(2)), ("brief", brief, day(1))])
    assert res["brief"].dup_cluster == "brief"


def test_windowed_containment_counts_each_shingle_once_per_window():
    rng = np.random.default_rng(7)
    for _ in range(300):  # small alphabets: many repeats, the case the matrix handles
        short = np.unique(rng.integers(0, 12, rng.integers(1, 10))).astype(np.uint64)
        long = rng.integers(0, 20, rng.integers(0, 80)).astype(np.uint64)
        window = int(rng.integers(1, 30))
        pos = np.flatnonzero(np.isin(long, short))
        expect = max((len(set(long[p:p + window].tolist()) & set(short.tolist())) for p in pos), default=0)
        assert contain.windowed_containment(short, long, window) == expect / len(short)
        at_least = float(rng.choice([0.3, 0.6, 1.0]))  # exact at or above it, below it only below
        got = contain.windowed_containment(short, long, window, at_least)
        assert got == expect / len(short) if expect / len(short) >= at_least else got < at_least
        loop = contain._distinct_in_windows(pos.tolist(), long[pos].tolist(), window)
        assert loop == expect


def test_containment_is_exact_over_shingles():
    short, long = contain.shingle_set(body(8), S), contain.shingle_set(body(0, 8, 9), S)
    assert contain.containment(short, long) == 1.0
    assert contain.containment(long, short) < 0.5
    assert contain.containment(np.empty(0, np.uint64), long) == 0.0


def _verdicts(rows, run):
    index = DedupIndex(S, run=run)
    ids, texts, dates = zip(*rows)
    index.add_many(ids, [content_sha256(t) for t in texts], signatures(texts, S),
                   date_keys=[date_key(d) for d in dates], n_chars=[len(t) for t in texts])
    candidates = index.containment_candidates()
    verified = contain.verify_texts(candidates, list(texts).__getitem__, S)
    try:
        return candidates.tolist(), index.results(verified), index.stats()
    finally:
        index.close()


def test_the_candidate_searches_give_the_same_verdicts_whatever_runs_their_tasks():
    """The LSH and containment searches are tasks (a few bands or slots each) that the index hands
    to `run`: run here, in worker processes or backwards, the candidates and verdicts agree."""
    from builder.run import LocalPool

    rng = np.random.default_rng(7)
    rows = []
    for k in range(60):  # articles, reposts with a sentence changed, briefs of two sentences
        idx = sorted(rng.choice(len(SENTENCES), size=6, replace=False).tolist())
        rows.append((f"a{k:02d}", body(*idx), day(1 + k % 20)))
        if k % 3 == 0:
            rows.append((f"r{k:02d}", body(*idx[:-1]) + "\n\n另据报道，相关部门将继续密切关注市场运行情况。", day(2)))
        if k % 4 == 0:
            rows.append((f"b{k:02d}", "据悉，" + body(*idx[2:4]), day(3)))

    def backwards(fn, tasks):
        return reversed([fn(t) for t in reversed(tasks)])

    here = _verdicts(rows, map)
    with LocalPool(2) as pool:
        in_workers = _verdicts(rows, lambda fn, tasks: (r for _, r in pool.map(fn, enumerate(tasks))))
    assert here == in_workers == _verdicts(rows, backwards)
    assert here[2]["candidate_pairs"] > 0 and here[2]["contained"] + here[2]["near_duplicates"] > 0


def test_the_searches_find_the_same_pairs_when_they_sort_their_values_in_parts(monkeypatch):
    """A search sorts a part of a slot's (or band's) values at a time (store.value_parts); parts
    of a few texts each find the same candidate pairs and verdicts as one sort over all of them."""
    from builder.dedup import store

    rng = np.random.default_rng(11)
    rows = []
    for k in range(40):
        idx = sorted(rng.choice(len(SENTENCES), size=6, replace=False).tolist())
        rows.append((f"a{k:02d}", body(*idx), day(1 + k % 20)))
        rows.append((f"r{k:02d}", body(*idx[:-1]) + "\n\n另据报道，相关部门将继续密切关注市场运行情况。", day(2)))
        rows.append((f"b{k:02d}", "据悉，" + body(*idx[2:4]), day(3)))
    whole = _verdicts(rows, map)
    monkeypatch.setattr(store, "PART_ROWS", 8)
    assert len(list(store.value_parts(np.arange(len(rows), dtype=np.uint32)))) == 16
    assert _verdicts(rows, map) == whole
    assert whole[2]["candidate_pairs"] > 0 and whole[2]["contained"] > 0 and whole[2]["near_duplicates"] > 0
