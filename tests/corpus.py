"""Access to the shared real-mail corpus, unpacked once into a cache folder.

The archives live in ``../shared/corpus`` beside the repository (or ``$TIDINGS_CORPUS``);
they are read-only, so they are unpacked into ``.cache/corpus`` inside the repository.
"""

from __future__ import annotations

import fcntl
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "corpus"


def archive_dir() -> Path:
    return Path(os.environ.get("TIDINGS_CORPUS", REPO.parent / "shared" / "corpus"))


def corpus_dir(name: str) -> Path:
    """Unpacked folder of one archive (``real-mail``, ``spamham``, ``mime-fixtures``).

    Parallel test workers may ask at once: one unpacks under a lock, the others wait."""
    dest = CACHE / name
    marker = CACHE / f".{name}.done"
    if not marker.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with open(CACHE / f".{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not marker.exists():
                with tarfile.open(archive_dir() / f"{name}.tar.xz") as tf:
                    tf.extractall(CACHE, filter="data")
                marker.touch()
    return dest


def message_files(name: str) -> Iterator[Path]:
    """Every message file of one archive, in a stable order (manifests excluded)."""
    root = corpus_dir(name)
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.endswith(".tsv"):
            yield path
