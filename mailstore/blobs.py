"""Content-addressed message bodies on disk.

Implementation notes:
- A blob is named by the SHA-256 of its bytes and never changes once written.
- Durable before visible: bytes go to a temp file, are flushed to disk, and only then
  renamed into place; the rename is flushed too before ``put_many`` returns. Only then may
  the database rows that point at the blob be committed (the durability rule). A file at
  its final name is therefore always complete, even after a crash.
- Flushing a batch: on Linux one ``syncfs`` flushes every temp file of the batch in one
  journal commit (an ``fsync`` per file costs a journal commit each, ~1-2 ms); elsewhere
  each file and directory is fsynced.
- A blob is shared by every copy of a message; the database counts references. Deleting
  the file is the garbage collector's job, done while it holds the content row, so an
  append of the same bytes in flight re-writes it (see ``Messages._upsert_contents``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
import secrets
from collections.abc import Iterable
from pathlib import Path


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _load_syncfs():  # -> Callable[[int], int] | None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        return libc.syncfs
    except (OSError, AttributeError):
        return None


_SYNCFS = _load_syncfs()


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"

    def ensure_dirs(self) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, sha: str) -> Path:
        return self.root / sha[:2] / sha

    def exists(self, sha: str) -> bool:
        return self.path(sha).exists()

    def get(self, sha: str) -> bytes:
        return self.path(sha).read_bytes()

    def put(self, data: bytes, sha: str | None = None) -> str:
        """Store ``data`` durably and return its SHA-256."""
        sha = sha or digest(data)
        self.put_many([(sha, data)])
        return sha

    def put_many(self, items: Iterable[tuple[str, bytes]]) -> None:
        """Store several blobs durably, flushing the batch as a whole."""
        staged: list[tuple[Path, Path]] = []
        seen: set[str] = set()
        for sha, data in items:
            final = self.path(sha)
            if sha in seen or final.exists():
                continue
            seen.add(sha)
            tmp = self.tmp / f"{sha}.{secrets.token_hex(6)}"
            _write_file(tmp, data, fsync=_SYNCFS is None)
            staged.append((tmp, final))
        if not staged:
            return
        self._flush()
        dirs: set[Path] = set()
        for tmp, final in staged:
            if not final.parent.is_dir():
                final.parent.mkdir(parents=True, exist_ok=True)
                dirs.add(self.root)
            os.replace(tmp, final)
            dirs.add(final.parent)
        if _SYNCFS is not None:
            self._flush()
        else:
            for directory in dirs:
                fsync_path(directory)

    def files(self) -> list[Path]:
        """Every stored blob file (not the temp folder)."""
        return [p for p in self.root.glob("??/*") if p.parent != self.tmp]

    def delete(self, sha: str) -> None:
        try:
            self.path(sha).unlink()
        except FileNotFoundError:
            pass

    def _flush(self) -> None:
        if _SYNCFS is None:
            return
        fd = os.open(self.root, os.O_RDONLY)
        try:
            if _SYNCFS(fd) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"syncfs failed: {os.strerror(err)}")
        finally:
            os.close(fd)


def _write_file(path: Path, data: bytes, fsync: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def fsync_path(path: Path) -> None:
    """Flush a file or a directory (its entries: a rename) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
