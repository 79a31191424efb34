"""The article list: front-coded paths, spooled to a file, and the runs read tasks are given."""
import random

import pytest

from builder.read.paths import ArticleList, _common_prefix

RELS = sorted({f"source/_posts/金融/新浪财经/国内/{i:05d}-{'x' * (i % 7)}.md" for i in range(300)}
              | {"a.md", "a/b.md", "a/b/c" * 40 + ".md", "z/\udcff-raw-byte.md", "短.md"})


@pytest.mark.parametrize("spool", [False, True])
def test_article_list_round_trips_every_entry_and_slice(spool, tmp_path):
    rels = RELS
    items = ArticleList("/root", tmp_path if spool else None)
    if spool:
        items._SPOOL_AT = 100  # to a file every few entries: slices span file and memory
    for rel in rels:
        items.append(rel)
    assert len(items) == len(rels)
    assert [items[i][1] for i in range(len(rels))] == [f"/root/{r}" for r in rels]
    assert items[-1] == items[len(rels) - 1]
    for start, stop in [(0, 0), (0, 1), (31, 33), (30, 97), (290, 400), (5, 5)]:
        assert [p for _, p in items[start:stop]] == [f"/root/{r}" for r in rels[start:stop]]
    assert [p for _, p in items[3:50:7]] == [f"/root/{r}" for r in rels[3:50:7]]
    raw = rels.index("z/\udcff-raw-byte.md")
    assert items[raw][0] == "z/\\xff-raw-byte.md"  # shown: the raw byte escaped, never an unencodable str
    with pytest.raises(IndexError):
        items[len(rels)]
    if spool:
        assert items._spooled > 1000 and len(items._blob) < 200
        assert len(list(tmp_path.iterdir())) <= 1  # an unnamed temporary file where the system allows
    items.close()


def test_common_prefix_is_the_bytes_two_paths_share():
    rng = random.Random(4)
    for _ in range(3000):  # NUL and 0xff bytes included: leading zeros must not count as equal
        a, b = (bytes(rng.choice(b"a\x00\xff") for _ in range(rng.randrange(12))) for _ in range(2))
        shared = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        assert _common_prefix(a, b) == shared


@pytest.mark.parametrize("spool", [False, True])
def test_a_folder_extended_at_once_is_the_list_appended_one_by_one(spool, tmp_path):
    one, many = (ArticleList("/root", tmp_path if spool else None) for _ in range(2))
    for items in (one, many):
        items._SPOOL_AT = 100 if spool else items._SPOOL_AT
    folders: dict[str, list[str]] = {}
    for rel in RELS:
        folder, _, name = rel.rpartition("/")
        folders.setdefault(folder + "/" if folder else "", []).append(name)
    for prefix, names in folders.items():
        for name in names:
            one.append(prefix + name)
        many.extend(prefix, names)
    assert len(many) == len(one) and many[0:len(many)] == one[0:len(one)]
    assert [p for _, p in many[0:len(many)]] == [f"/root/{prefix}{name}" for prefix, names in folders.items()
                                                 for name in names]
    one.close(), many.close()


@pytest.mark.parametrize("spool", [False, True])
def test_a_block_decodes_to_its_slice_of_the_list(spool, tmp_path):
    import pickle

    items = ArticleList("/root", tmp_path if spool else None)
    if spool:
        items._SPOOL_AT = 100
    for rel in RELS:
        items.append(rel)
    for start, stop in [(0, 0), (0, 1), (31, 33), (32, 64), (30, 97), (290, len(RELS)), (7, 7)]:
        block = pickle.loads(pickle.dumps(items.block(start, stop)))  # as a task receives it
        assert len(block) == stop - start and block.items() == items[start:stop]
    items.close()
