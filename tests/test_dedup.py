import hashlib
import random
from datetime import datetime, timezone

import numpy as np
import pytest

from builder.dedup import (EMPTY, DedupIndex, DedupSettings, content_sha256, date_key, normalize_text,
                           optimal_bands, signature, signatures, similarity)
from builder.errors import ConfigError

S = DedupSettings()
SENTENCES = [
    "3月24日，工业和信息化部召开重点行业运行形势分析座谈会，研判当前工业经济形势。",
    "会议指出，今年以来工业稳增长各项政策措施持续发力，前2个月工业经济运行情况好于预期。",
    "同时要看到，3月份以来国际国内不确定不稳定因素增多，各种困难挑战不容忽视。",
    "会上，钢铁、有色、建材、石化、机械、汽车等10个行业协会负责同志作交流发言。",
    "中国人民银行今日以利率招标方式开展了1000亿元逆回购操作，中标利率为2.1%。",
    "央行表示，此举旨在维护月末流动性合理充裕，当日有200亿元逆回购到期。",
    "TV动画《呪術廻戦》第二季将于7月6日在MBS/TBS系列全国28个电视台播出。",
    "原作漫画的累计发行量已突破8000万部，第一季的TV动画在国内外引起了巨大反响。",
    "商务部网站发布消息，112个世贸组织成员共同联署《投资便利化联合声明》。",
    "各方在声明中强调将继续坚持发展导向，并以现有谈判文本为基础推进谈判。",
    "爱多纷正式宣布完成亿元级Pre-A轮融资，本轮融资将主要用于产品升级及营销推广。",
    "10年送出300万个馒头，这家开在街角的免费馒头店于本月底正式谢幕。",
    "12月1日零时起，川渝两地座机通话取消长途费，两地用户拨打电话按本地资费收取。",
    "警方已介入调查网络上售卖所谓老虎肉的商家，涉事店铺已经下架全部相关商品。",
    "插旗菜业的清洗车间里，一袋袋酸菜被随意堆放在地上，随后被制成老坛酸菜包。",
    "多伦多国际电影节是加拿大最大的城市每年举办的电影节，获奖作品屡获奥斯卡青睐。",
]


def body(*idx: int) -> str:
    return "\n\n".join(SENTENCES[i] for i in idx)


def cluster(rows, settings=S, **index_options):
    """rows: (id, text, date) -> the DedupIndex that clustered them (close it)."""
    index = DedupIndex(settings, **index_options)
    if rows:
        ids, texts, dates = zip(*rows)
        index.add_many(ids, [content_sha256(t) for t in texts], signatures(texts, settings),
                       date_keys=[date_key(d) for d in dates], n_chars=[len(t) for t in texts])
    return index


def run(rows, settings=S):
    """rows: (id, text, date) -> {id: DupResult}."""
    index = cluster(rows, settings)
    try:
        return {r.id: r for r in index.results()}
    finally:
        index.close()


def day(n: int) -> datetime:
    return datetime(2022, 3, n, tzinfo=timezone.utc)


# ---- normalisation -----------------------------------------------------------------------------
def test_normalize_folds_width_and_whitespace_only():
    assert normalize_text("　　Ａｂｃ，１２３！\n\n第二段 。") == "Abc,123!第二段."
    assert normalize_text("“引号”\u200b") == '"引号"'
    # Not NFKC: these are different characters, not different widths.
    assert normalize_text("①m²…、《》") == "①m²…、《》"
    assert normalize_text("") == ""


def test_content_hash_ignores_width_and_whitespace():
    a = "央行开展逆回购操作，维护流动性。\n\n第二段（完）"
    assert content_sha256(a) == content_sha256("　　央行开展 逆回购操作,维护流动性.\n第二段(完)")
    assert content_sha256(a) != content_sha256(a.replace("央行", "银行"))


# ---- signatures --------------------------------------------------------------------------------
def shingles(text: str, k: int) -> set[str]:
    n = normalize_text(text)
    return {n[i:i + k] for i in range(len(n) - k + 1)}


def test_signature_estimates_jaccard():
    a, b = body(*range(0, 10)), body(*range(3, 13))
    exact = len(shingles(a, 5) & shingles(b, 5)) / len(shingles(a, 5) | shingles(b, 5))
    assert abs(similarity(signature(a, S), signature(b, S)) - exact) < 0.12
    assert similarity(signature(a, S), signature(a, S)) == 1.0
    assert similarity(signature(body(0, 1, 2), S), signature(body(6, 7, 8), S)) < 0.1


def test_signatures_batch_equals_one_by_one_and_is_width_insensitive():
    texts = [body(0, 1), body(2), "短", "", "　 ", SENTENCES[5].replace("，", ",")]
    batch = signatures(texts, S)
    assert batch.shape == (6, S.num_perm) and batch.dtype == np.uint32
    assert all((batch[i] == signature(t, S)).all() for i, t in enumerate(texts))
    assert (signature(SENTENCES[5], S) == batch[5]).all()
    assert (batch[3] == EMPTY).all() and (batch[4] == EMPTY).all()  # nothing but whitespace: empty
    assert not (batch[2] == EMPTY).any()  # shorter than a shingle: one shingle, densified


def test_hash_and_sign_equals_the_two_calls_in_one_batch_or_in_chunks(monkeypatch):
    from builder.dedup import hash_and_sign, minhash
    texts = [body(0, 1), "", "　 ", "短", "a\u200bb", SENTENCES[5].replace("，", ","), body(2, 3, 4) * 3]
    hashes, sigs = hash_and_sign(texts, S)
    assert hashes == [content_sha256(t) for t in texts]
    assert np.array_equal(sigs, signatures(texts, S))
    monkeypatch.setattr(minhash, "_CHARS_PER_CHUNK", 40)  # a chunk per text or two
    chunked = hash_and_sign(texts, S)
    assert chunked[0] == hashes and np.array_equal(chunked[1], sigs)


def test_signature_is_pinned():
    # Changing these values changes clusters in published datasets: a major version (see dedup.py).
    assert signature(SENTENCES[0], S)[:6].tolist() == PINNED


PINNED = [3646271533, 4017721380, 2914013161, 1024540734, 3723267943, 200102626]


def test_seed_and_shingle_size_change_signatures():
    t = body(0, 1, 2)
    assert not (signature(t, S) == signature(t, DedupSettings(seed=2))).all()
    assert not (signature(t, S) == signature(t, DedupSettings(shingle_size=3))).all()


# ---- clustering --------------------------------------------------------------------------------
def test_exact_duplicate_with_whitespace_and_width_changes():
    a = body(0, 1, 2, 3)
    b = "　　" + a.replace("，", ",").replace("\n\n", "\n")
    res = run([("a", a, day(2)), ("b", b, day(1)), ("c", body(4, 5, 6, 7), day(1))])
    assert res["a"].dup_cluster == res["b"].dup_cluster == "b"  # b is earlier
    a_ = res["a"]
    assert (a_.keep, a_.reason, a_.duplicate_of, a_.similarity) == (False, "duplicate", "b", 1.0)
    assert res["b"].keep and res["b"].reason is None and res["b"].duplicate_of is None
    assert res["c"].dup_cluster == "c" and res["c"].keep


def test_near_duplicate_with_a_paragraph_added():
    original = body(0, 1, 2, 3, 4, 5)
    repost = body(0, 1, 2, 3, 4, 5, 14) + "\n\n（本文来自川观新闻）"
    res = run([("orig", original, day(1)), ("repost", repost, day(2))])
    r = res["repost"]
    assert (r.dup_cluster, r.keep, r.reason, r.duplicate_of) == ("orig", False, "near_duplicate", "orig")
    assert S.threshold <= r.similarity < 1.0


def test_same_title_different_body_is_not_a_duplicate():
    title = "工信部召开重点行业运行形势分析座谈会"
    res = run([("a", title + "\n\n" + body(0, 1, 2, 3), day(1)),
               ("b", title + "\n\n" + body(8, 9, 10, 11), day(2))])
    assert res["a"].dup_cluster == "a" and res["b"].dup_cluster == "b"
    assert res["a"].keep and res["b"].keep


def test_result_does_not_depend_on_input_order():
    rows = [("o", body(0, 1, 2, 3, 4, 5), day(3)), ("near", body(0, 1, 2, 3, 4, 5, 6), day(4)),
            ("exact", body(0, 1, 2, 3, 4, 5), day(3)), ("x", body(8, 9, 10), None),
            ("y", body(8, 9, 10, 11), None), ("z", body(12, 13), day(1)), ("e", "", None), ("f", "", None)]
    expected = run(rows)
    for seed in range(5):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        assert run(shuffled) == expected
    assert list(expected) == sorted(expected)  # results come sorted by id


def test_kept_member_earliest_date_then_longest_then_smallest_id():
    t = body(0, 1, 2, 3, 4, 5)
    longer = t + "\n\n" + SENTENCES[6]
    res = run([("b", t, day(2)), ("a", t, None), ("c", longer, day(2)), ("d", t, day(2))])
    assert {r.dup_cluster for r in res.values()} == {"c"}  # day 2 beats no date; c is longest
    res = run([("b", t, day(2)), ("d", t, day(2)), ("a", t, None)])
    assert res["d"].dup_cluster == "b"  # same date, same length: smallest id
    res = run([("b", t, None), ("a", t, None)])
    assert res["b"].duplicate_of == "a"  # no dates at all: still decided
    res = run([("late", t, day(9)), ("early", t, datetime(2022, 3, 9))])  # naive counts as UTC
    assert res["late"].duplicate_of == "early"


def test_keep_duplicates_keeps_every_row_flagged():
    settings = DedupSettings(keep_duplicates=True)
    res = run([("a", body(0, 1, 2, 3, 4, 5), day(1)), ("b", body(0, 1, 2, 3, 4, 5), day(2)),
               ("c", body(0, 1, 2, 3, 4, 5, 6), day(3))], settings)
    assert all(r.keep for r in res.values())
    assert (res["b"].reason, res["c"].reason) == ("duplicate", "near_duplicate")
    assert res["b"].dup_cluster == res["c"].dup_cluster == "a"


def test_chains_are_transitive():
    # A~B and B~C pass the threshold, A and C do not: one cluster (documented in DedupIndex).
    a, b, c = body(0, 1, 2, 3, 4, 5), body(3, 4, 5, 6, 7, 8), body(6, 7, 8, 9, 10, 11)
    settings = DedupSettings(threshold=0.3)
    sa, sb, sc = signatures([a, b, c], settings)
    assert similarity(sa, sb) >= 0.3 and similarity(sb, sc) >= 0.3 and similarity(sa, sc) < 0.3
    res = run([("a", a, day(1)), ("b", b, day(2)), ("c", c, day(3))], settings)
    assert {r.dup_cluster for r in res.values()} == {"a"}
    assert res["c"].similarity < 0.3  # the verdict says how far the chain reached


def test_exact_only_when_near_is_off():
    res = run([("a", body(0, 1, 2, 3, 4, 5), day(1)), ("b", body(0, 1, 2, 3, 4, 5, 6), day(2)),
               ("c", body(0, 1, 2, 3, 4, 5), day(3))], DedupSettings(near=False))
    assert res["b"].dup_cluster == "b" and res["c"].duplicate_of == "a"


def test_index_takes_signatures_once_per_text():
    index = DedupIndex(S)
    sig = signature(body(0, 1), S)
    index.add("a", "h1", sig, n_chars=10)
    index.add("b", "h1", n_chars=10)  # known text: no signature needed
    assert [r.dup_cluster for r in index.results()] == ["a", "a"]
    assert index.stats()["distinct_texts"] == 1 and index.stats()["duplicates"] == 1


def test_index_checks_signatures_and_ids_when_clustering():
    # Checked by results(), which sees every row: the index keeps no per-id set while rows
    # stream in (memory per row is a few numbers).
    sig = signature(body(0, 1), S)
    index = DedupIndex(S)
    index.add("a", "h1", sig)
    index.add("c", "h2")
    with pytest.raises(ValueError, match="no signature for the text of row 'c'"):
        index.results()
    index = DedupIndex(S)
    index.add("a", "h1", sig)
    index.add("a", "h1")
    with pytest.raises(ValueError, match="duplicate row id 'a'"):
        index.results()
    with pytest.raises(ValueError, match="shape"):
        DedupIndex(S).add("a", "h1", sig[:5])


def test_signatures_live_on_disk_and_add_many_equals_add(tmp_path):
    texts = [body(0, 1, 2, 3), body(0, 1, 2, 3, 4), body(5, 6, 7), body(8, 9), body(5, 6, 7)]
    ids = [f"{i:016x}" for i in (9, 3, 7, 1, 5)]
    hashes = [content_sha256(t) for t in texts]
    sigs = signatures(texts, S)
    one = DedupIndex(S, folder=tmp_path / "one")
    for i, h, s in zip(ids, hashes, sigs):
        one.add(i, h, s, date=day(1), n_chars=100)
    many = DedupIndex(S, folder=tmp_path / "many")
    many.add_many(ids, hashes, sigs, date_keys=[date_key(day(1))] * 5, n_chars=[100] * 5)
    assert one.results() == many.results()
    assert (tmp_path / "many" / "signatures.u32").stat().st_size == 5 * S.num_perm * 4
    verdicts = {r.id: r for r in many.results()}
    assert verdicts[ids[2]].reason == "duplicate" and verdicts[ids[2]].duplicate_of == ids[4]  # smaller id kept
    many.close()
    assert not (tmp_path / "many" / "signatures.u32").exists()


def test_a_huge_bucket_is_bounded_but_still_clustered():
    rows = [(f"id{i:03d}", body(0, 1, 2, 3) + f"\n\n编号{i:03d}", day(1)) for i in range(150)]
    index = cluster(rows, bucket_window=8)
    assert {r.dup_cluster for r in index.results()} == {"id000"}
    assert index.stats()["candidate_pairs"] < 150 * 149 // 2
    index.close()


# ---- settings ----------------------------------------------------------------------------------
def test_settings_derive_bands_and_record_everything():
    d = S.to_dict()
    assert (d["bands"], d["rows"]) == optimal_bands(S.threshold, S.num_perm) == S.lsh_bands
    assert d["bands"] * d["rows"] <= S.num_perm
    assert {"threshold", "shingle_size", "num_perm", "seed", "algorithm", "keep_duplicates"} <= set(d)
    assert DedupSettings(bands=16, rows=8).lsh_bands == (16, 8)
    # A higher threshold gets longer bands (fewer, more similar candidates).
    assert optimal_bands(0.8, 128)[1] > optimal_bands(0.5, 128)[1]


@pytest.mark.parametrize("kwargs", [dict(threshold=0), dict(threshold=1.5), dict(shingle_size=0),
                                    dict(num_perm=4), dict(bands=10), dict(bands=20, rows=10)])
def test_bad_settings_fail_at_construction(kwargs):
    with pytest.raises(ConfigError):
        DedupSettings(**kwargs)


def test_ids_of_any_form_in_one_batch():
    # A batch mixing the build's hex ids with other ids must be added whole, once.
    sig = signatures([body(0, 1), body(2, 3)], S)
    index = DedupIndex(S)
    index.add_many(["0123456789abcdef", "not-a-hex-id-xyz"], ["h1", "h2"], sig, date_keys=[0, 0], n_chars=[8, 8])
    assert [r.id for r in index.results()] == ["0123456789abcdef", "not-a-hex-id-xyz"]


def _window_pairs_reference(text_hashes, sigs, settings, window):
    """Candidate pairs by brute force: per band, the members of each bucket in slot order
    (text-hash rank), every two within `window` places."""
    from builder.dedup.store import _digest64

    digests = [_digest64(h) for h in text_hashes]
    rank = {d: r for r, d in enumerate(sorted(set(digests)))}
    bands, rows = settings.lsh_bands
    pairs = set()
    for b in range(bands):
        buckets = {}
        for i, sig in enumerate(sigs):
            buckets.setdefault(tuple(sig[b * rows:(b + 1) * rows].tolist()), set()).add(rank[digests[i]])
        for members in buckets.values():
            members = sorted(members)
            for x in range(len(members)):
                for y in range(x + 1, min(len(members), x + window + 1)):
                    pairs.add((members[x], members[y]))
    return pairs


def test_candidate_pairs_equal_a_brute_force_reference():
    # Template-like texts: the same big bucket (over the window) in band after band, one that
    # changes a member from band to band, and random rows.
    rng = np.random.default_rng(5)
    settings = DedupSettings()
    bands, rows = settings.lsh_bands
    n = 120
    sigs = rng.integers(0, 2**31, size=(n, settings.num_perm), dtype=np.uint32)
    template = rng.integers(0, 2**31, size=settings.num_perm, dtype=np.uint32)
    for b in range(bands):  # rows 0-29: one bucket in every band
        sigs[:30, b * rows:(b + 1) * rows] = template[b * rows:(b + 1) * rows]
    other = rng.integers(0, 2**31, size=settings.num_perm, dtype=np.uint32)
    for b in range(0, bands, 2):  # rows 30-49 in even bands, rows 31-50 in odd ones
        sigs[30:50, b * rows:(b + 1) * rows] = other[b * rows:(b + 1) * rows]
    for b in range(1, bands, 2):
        sigs[31:51, b * rows:(b + 1) * rows] = other[b * rows:(b + 1) * rows]
    hashes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n)]
    index = DedupIndex(settings, bucket_window=4)
    index.add_many([f"{i:016x}" for i in range(n)], hashes, sigs, date_keys=[0] * n, n_chars=[100] * n)
    index.results_arrays()
    expected = _window_pairs_reference(hashes, sigs, settings, window=4)
    assert index.stats()["candidate_pairs"] == len(expected) > 0
    index.close()


def test_signatures_are_gathered_as_written_in_any_order_with_repeats(tmp_path):
    from builder.dedup import store as dedup_store

    sigs = np.random.default_rng(5).integers(0, 2**32, size=(10_000, 16), dtype=np.uint32)
    store = dedup_store.SignatureFile(tmp_path, 16)
    for start in range(0, len(sigs), 3_000):
        store.append(sigs[start:start + 3_000])
    rows = np.random.default_rng(6).integers(0, len(sigs), size=3 * dedup_store._GATHER_ROWS)  # repeats, any order
    assert np.array_equal(store.gather(rows), sigs[rows])
    assert store.gather(np.empty(0, np.int64)).shape == (0, 16)
    store.close()


def test_the_search_tasks_arrays_are_narrowed_only_when_every_value_fits():
    from builder.dedup.store import compact

    small = np.array([0, 5, 2**31 - 1, -2**31], dtype=np.int64)
    assert compact(small).dtype == np.int32 and compact(small).tolist() == small.tolist()
    for big in ([2**31], [-2**31 - 1]):
        assert compact(np.array(big, dtype=np.int64)).dtype == np.int64
    assert compact(np.empty(0, np.int64)).dtype == np.int32


def test_value_parts_keep_equal_values_together_and_positions_in_order(monkeypatch):
    from builder.dedup import store

    values = np.array([5, 9, 5, 12, 7, 9, 5, 1 << 31, 3, 12], dtype=np.uint32)
    assert [p.tolist() for p in store.value_parts(values)] == [list(range(10))]
    monkeypatch.setattr(store, "PART_ROWS", 3)
    parts = [p.tolist() for p in store.value_parts(values)]
    assert len(parts) == 4 and sorted(sum(parts, [])) == list(range(10))
    for part in parts:
        assert part == sorted(part)
        assert {int(v) for v in values[part]}.isdisjoint(int(v) for q in parts if q is not part for v in values[q])


def test_the_candidate_count_is_the_distinct_pairs_sharing_a_band():
    """The LSH candidates are counted from files by smaller text, not held: the count is still
    every distinct pair of texts that shares a band key, however many bands it shares."""
    from builder.dedup.lsh import band_keys

    settings = DedupSettings()
    rng = np.random.default_rng(3)
    texts = []
    for k in range(40):
        idx = sorted(rng.choice(len(SENTENCES), size=5, replace=False).tolist())
        texts.append(body(*idx))
        if k % 2:
            texts.append(body(*idx[:-1]) + "另据报道。")
    texts = sorted(set(texts), key=content_sha256)  # slots are distinct texts in text-hash order
    sigs = signatures(texts, settings)
    keys = band_keys(sigs, settings)
    expected = {(i, j) for i in range(len(texts)) for j in range(i + 1, len(texts)) if (keys[i] == keys[j]).any()}
    index = DedupIndex(settings)
    index.add_many([f"{i:016x}" for i in range(len(texts))], [content_sha256(t) for t in texts], sigs,
                   date_keys=[0] * len(texts), n_chars=[len(t) for t in texts])
    index.results()
    assert index.stats()["candidate_pairs"] == len(expected) > 0
    index.close()
