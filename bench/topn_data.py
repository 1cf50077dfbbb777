"""The real ratings the ranking bench runs on, found or fetched by the bench itself, and its splits and subsets.

MovieLens 100K ships inside the PyPI wheel of RecBole (recbole/dataset_example/ml-100k: RecBole's atomic files
ml-100k.inter and ml-100k.item). fetch_movielens_100k downloads that wheel with pip (no install, no
dependencies) into the cache folder bench/.data (git-ignored) and writes MovieLens's own u.data and u.item from
it. Other MovieLens datasets on disk (--data DIR with ratings.csv and movies.csv, ratings.dat and movies.dat, or
u.data and u.item) are read as they are.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CACHE = Path(__file__).resolve().parent / ".data"
RECBOLE = "recbole==1.2.1"
RECBOLE_FILES = {"ml-100k.inter": "inter", "ml-100k.item": "item"}
DENSE_MIN_RATINGS = 100  # the dense subset: ratings of users and items with at least this many ratings each
SPARSE_SHARE = 0.3  # the sparse subset: this share of the ratings, drawn at random
TEST_FRACTION = 0.1


@dataclass
class Ratings:
    """One dataset's ratings as parallel arrays (ids as the file has them), its titles and where it came from."""

    name: str
    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    source: str
    titles: dict = field(default_factory=dict)

    def subset(self, name: str, keep: np.ndarray) -> Ratings:
        return Ratings(name, self.user[keep], self.item[keep], self.rating[keep], self.source, self.titles)


def fetch_movielens_100k(cache: Path = CACHE) -> Path:
    """cache/ml-100k with u.data (tab-separated user item rating timestamp) and u.item (id|title), made from
    the RecBole wheel's copy of MovieLens 100K on first use."""
    target = cache / "ml-100k"
    if (target / "u.data").exists() and (target / "u.item").exists():
        return target
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    if not list(wheels.glob("recbole-*.whl")):
        command = [sys.executable, "-m", "pip", "download", RECBOLE, "--no-deps", "--quiet", "-d", str(wheels)]
        subprocess.run(command, check=True)
    wheel = next(wheels.glob("recbole-*.whl"))
    texts = {}
    with zipfile.ZipFile(wheel) as archive:
        for name, key in RECBOLE_FILES.items():
            texts[key] = archive.read(f"recbole/dataset_example/ml-100k/{name}").decode("utf-8").splitlines()[1:]
    target.mkdir(parents=True, exist_ok=True)
    # Atomic files: a typed header line, then tab-separated fields (inter: user item rating timestamp).
    (target / "u.data").write_text("".join(line + "\n" for line in texts["inter"]))
    titles = [line.split("\t")[:3] for line in texts["item"]]
    lines = "".join(f"{item}|{title} ({year})\n" for item, title, year in titles)
    (target / "u.item").write_text(lines, encoding="latin-1", errors="replace")  # MovieLens's u.item encoding
    return target


def read_dataset(folder: Path) -> Ratings:
    """A MovieLens folder: u.data (+ u.item), ratings.csv (+ movies.csv) or ratings.dat (+ movies.dat)."""
    if (folder / "u.data").exists():
        rows = np.loadtxt(folder / "u.data", delimiter="\t", usecols=(0, 1, 2))
        titles = _titles(folder / "u.item", "|", "latin-1")
    elif (folder / "ratings.csv").exists():
        rows = np.loadtxt(folder / "ratings.csv", delimiter=",", skiprows=1, usecols=(0, 1, 2))
        titles = _csv_titles(folder / "movies.csv")
    elif (folder / "ratings.dat").exists():
        text = (folder / "ratings.dat").read_text().replace("::", "\t")
        rows = np.array([line.split("\t")[:3] for line in text.splitlines()], dtype=np.float64)
        titles = _titles(folder / "movies.dat", "::", "latin-1")
    else:
        raise SystemExit(f"topn_bench: {folder} holds no u.data, ratings.csv or ratings.dat")
    user, item = rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64)
    return Ratings(folder.name, user, item, rows[:, 2], str(folder), titles)


def _csv_titles(path: Path) -> dict:
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        return {int(row[0]): row[1] for row in list(csv.reader(handle))[1:]}


def _titles(path: Path, separator: str, encoding: str) -> dict:
    if not path.exists():
        return {}
    lines = path.read_text(encoding=encoding).splitlines()
    return {int(fields[0]): fields[1] for fields in (line.split(separator) for line in lines) if len(fields) > 1}


def variants(ratings: Ratings, seed: int) -> list:
    """The dataset itself, its dense subset (users and items with DENSE_MIN_RATINGS ratings or more) and a
    sparse subset (SPARSE_SHARE of its ratings at random)."""
    user_counts = np.bincount(ratings.user)
    item_counts = np.bincount(ratings.item)
    dense = (user_counts[ratings.user] >= DENSE_MIN_RATINGS) & (item_counts[ratings.item] >= DENSE_MIN_RATINGS)
    sparse = np.random.default_rng(seed + 1).random(ratings.user.size) < SPARSE_SHARE
    return [
        ratings,
        ratings.subset(f"{ratings.name} dense", dense),
        ratings.subset(f"{ratings.name} sparse", sparse),
    ]


def split_and_write(ratings: Ratings, folder: Path, seed: int) -> np.ndarray:
    """A seeded TEST_FRACTION of the ratings held out; writes folder/u.data (train) and folder/u.test (test) in
    MovieLens 100K's format, what the job reads with --format udata. Returns the training mask."""
    train = np.random.default_rng(seed).random(ratings.user.size) >= TEST_FRACTION
    folder.mkdir(parents=True, exist_ok=True)
    for name, mask in (("u.data", train), ("u.test", ~train)):
        rows = zip(ratings.user[mask], ratings.item[mask], ratings.rating[mask], strict=True)
        (folder / name).write_text("".join(f"{u}\t{i}\t{r:g}\t0\n" for u, i, r in rows))
    return train
