"""bench/blobs: what one durable batch of blobs costs, per flushing strategy.

``BlobStore.put_many`` flushes a batch with ``syncfs`` (one journal commit, but it also
waits for every other process's dirty data on the filesystem). The alternatives measured
here: an fsync per file and per directory, one after the other, or all at once from a
thread pool (concurrent fsyncs share journal commits). Batches of 1, 5 and 10 files of
10 KB, as SMTP delivery makes them; run it on a quiet machine and on a busy one.
    .venv/bin/python bench/blobs.py [--rounds 60]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import REPO  # noqa: F401  (puts the repository on sys.path)

from mailstore.blobs import BlobStore, fsync_path

POOL = ThreadPoolExecutor(16)


def per_file(store: BlobStore, items: list[tuple[str, bytes]], parallel: bool) -> None:
    """Temp file + fsync each, rename, fsync each directory."""
    staged = []
    for sha, data in items:
        tmp = store.tmp / sha
        tmp.write_bytes(data)
        staged.append((tmp, store.path(sha)))
    run = (lambda f, xs: list(POOL.map(f, xs))) if parallel else (lambda f, xs: [f(x) for x in xs])
    run(fsync_path, [tmp for tmp, _ in staged])
    dirs = set()
    for tmp, final in staged:
        final.parent.mkdir(exist_ok=True)
        os.replace(tmp, final)
        dirs.add(final.parent)
    run(fsync_path, list(dirs))


def measure(root: Path, strategy: str, files: int, rounds: int) -> str:
    store = BlobStore(root / strategy)
    store.ensure_dirs()
    times = []
    for _ in range(rounds):
        items = [(hashlib.sha256(d).hexdigest(), d) for d in
                 (os.urandom(10240) for _ in range(files))]
        start = time.perf_counter()
        if strategy == "syncfs (put_many)":
            store.put_many(items)
        else:
            per_file(store, items, parallel=strategy == "fsync, parallel")
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return (f"{strategy:18s} {files:3d} files: p50 {times[len(times) // 2]:6.2f} ms  "
            f"p90 {times[int(len(times) * 0.9)]:6.2f} ms  mean {statistics.mean(times):6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    # Beside the repository: the same filesystem as a data folder would be on.
    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parent.parent) as tmp:
        for files in (1, 5, 10):
            for strategy in ("syncfs (put_many)", "fsync, one by one", "fsync, parallel"):
                print(measure(Path(tmp), strategy, files, args.rounds), flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
