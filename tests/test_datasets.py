"""Id maps, the Interactions container, and the loaders on small files written here."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.users.datasets import DatasetError, load_lastfm, load_movielens, load_recbole
from recsys.errors import ConfigError, UnknownIdError
from recsys.users.interactions import IdMap, Interactions

U_ITEM_FLAGS = "|".join(["0"] * 19)


# ------------------------------------------------------------------------ IdMap / Interactions
def test_id_map_round_trip_and_unknown_id():
    ids = IdMap(["b", "a", "c"], kind="item")
    assert ids.index(["c", "b"]).tolist() == [2, 0]
    assert ids.ids([1]).tolist() == ["a"] and "a" in ids and len(ids) == 3
    with pytest.raises(UnknownIdError, match="unknown item id 'zz'"):
        ids.index(["a", "zz"])
    with pytest.raises(UnknownIdError):
        ids.ids([3])
    with pytest.raises(ConfigError, match="duplicate"):
        IdMap([1, 1])


def test_interactions_from_frame_and_csr_sums_duplicates():
    frame = pd.DataFrame({"u": ["x", "y", "x", "x"], "i": [10, 20, 10, 30],
                          "w": [1.0, 2.0, 3.0, 1.0], "t": [5, 6, 7, 8]})
    inter = Interactions.from_frame(frame, "u", "i", "w", "t")
    assert (inter.n_users, inter.n_items, len(inter)) == (2, 3, 4) and inter.has_time
    csr = inter.to_csr()
    assert csr.shape == (2, 3) and csr[0, 0] == 4.0  # x-10 twice: 1 + 3
    assert inter.to_csr(binary=True)[0, 0] == 1.0
    assert inter.user_idx.dtype == np.int64 and inter.weight.dtype == np.float32
    back = inter.to_frame()
    assert back["user_id"].tolist() == ["x", "y", "x", "x"]
    fixed = Interactions.from_frame(frame, "u", "i", item_ids=[30, 20, 10, 40])
    assert fixed.n_items == 4 and fixed.item_idx.tolist() == [2, 1, 2, 0]
    with pytest.raises(UnknownIdError):
        Interactions.from_frame(frame, "u", "i", item_ids=[10])
    with pytest.raises(ConfigError, match="not in frame"):
        Interactions.from_frame(frame, "user", "i")


def test_interactions_rejects_bad_rows():
    ids = IdMap([0, 1])
    with pytest.raises(ConfigError):
        Interactions(np.array([0, 2]), np.array([0, 1]), np.ones(2), np.zeros(2), ids, ids)
    with pytest.raises(ConfigError):
        Interactions(np.array([0]), np.array([0, 1]), np.ones(2), np.zeros(2), ids, ids)


# ------------------------------------------------------------------------ loaders
def test_movielens_u_data_with_genres(tmp_path):
    (tmp_path / "u.data").write_text("1\t10\t5\t881250949\n2\t10\t3\t881250950\n1\t20\t4\t1\n")
    flags = ["0"] * 19
    flags[1] = flags[5] = "1"  # Action, Comedy
    (tmp_path / "u.item").write_bytes(
        ("10|Caf\xe9 (1995)|01-Jan-1995||http://x|" + "|".join(flags) + "\n"
         "20|Other (1996)|01-Jan-1996||http://y|" + U_ITEM_FLAGS + "\n").encode("latin-1"))
    data = load_movielens(tmp_path)
    inter = data.interactions
    assert (inter.n_users, inter.n_items, len(inter)) == (2, 2, 3)
    assert inter.item_ids.values.tolist() == [10, 20] and inter.timestamp[0] == 881250949
    assert data.feature_names == ("Action", "Comedy")
    assert data.item_features.tolist() == [[1, 1], [0, 0]]
    assert data.items["title"][0] == "Caf\xe9 (1995)"


def test_movielens_ratings_dat(tmp_path):
    (tmp_path / "ratings.dat").write_text("1::10::5::978300760\n2::11::3::978302109\n")
    (tmp_path / "movies.dat").write_text("10::A (1995)::Animation|Comedy\n11::B (1995)::Drama\n")
    data = load_movielens(tmp_path / "ratings.dat")
    assert len(data.interactions) == 2
    assert data.feature_names == ("Animation", "Comedy", "Drama")
    assert data.item_features.tolist() == [[1, 1, 0], [0, 0, 1]]


def test_recbole_inter_and_item(tmp_path):
    (tmp_path / "ml.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        "196\t242\t3\t881250949\n186\t302\t3\t891717742\n")
    (tmp_path / "ml.item").write_text(
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        "242\tKolya\t1996\tComedy\n302\tL.A. Confidential\t1997\tCrime Film-Noir\n")
    data = load_movielens(tmp_path)  # a folder with a .inter file
    assert data.name == "ml" and data.interactions.user_ids.values.tolist() == ["196", "186"]
    assert data.feature_names == ("Comedy", "Crime", "Film-Noir")
    assert data.item_features.tolist() == [[1, 0, 0], [0, 1, 1]]
    assert data.interactions.weight.tolist() == [3.0, 3.0]


def test_lastfm(tmp_path):
    (tmp_path / "user_artists.dat").write_text("userID\tartistID\tweight\n2\t51\t13883\n"
                                               "2\t52\t11690\n3\t51\t10\n")
    (tmp_path / "artists.dat").write_text("id\tname\turl\tpictureURL\n51\tDuran Duran\tu\tp\n")
    data = load_lastfm(tmp_path)
    assert data.interactions.to_csr()[0, 0] == 13883
    assert data.items["name"].tolist() == ["Duran Duran", ""]


@pytest.mark.parametrize("content,match", [
    ("1\t10\t5\n", "missing or extra"),  # a field short
    ("1\tten\t5\t881250949\n", "expected"),  # not a number
    ("", "expected"),  # empty
])
def test_garbled_files_give_one_line_errors(tmp_path, content, match):
    (tmp_path / "u.data").write_text(content)
    with pytest.raises(DatasetError, match=match) as info:
        load_movielens(tmp_path / "u.data")
    assert "\n" not in str(info.value) and "u.data" in str(info.value)


def test_missing_files(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        load_movielens(tmp_path / "nope")
    with pytest.raises(DatasetError, match="no u.data"):
        load_movielens(tmp_path)
    with pytest.raises(DatasetError, match="no such file"):
        load_lastfm(tmp_path)
    (tmp_path / "bad.inter").write_text("a:token\tb:token\n1\t2\n")
    with pytest.raises(DatasetError, match="user_id"):
        load_recbole(tmp_path / "bad.inter")
    (tmp_path / "user_artists.dat").write_text("u\ta\tw\n1\t2\t3\n")
    with pytest.raises(DatasetError, match="header"):
        load_lastfm(tmp_path)
