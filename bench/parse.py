"""Throughput of mailstore.mime.parse_message on a corpus archive, on one core.

Run: .venv/bin/python bench/parse.py [archive] [--profile]

Messages are read into memory first, so the figure is parsing only. The corpus is timed in
chunks of 500 messages; each chunk's time is the best of 5 runs, which filters out noise
from other processes on the machine. The plain single-pass time is printed as well.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailstore.mime import parse_message  # noqa: E402
from tests.corpus import message_files  # noqa: E402

CHUNK = 500
ROUNDS = 5


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    archive = args[0] if args else "real-mail"
    messages = [p.read_bytes() for p in message_files(archive)]
    total = sum(len(m) for m in messages)
    if "--profile" in sys.argv:
        import cProfile
        import pstats

        cProfile.runctx("for m in messages: parse_message(m)", globals(), locals(), "/tmp/p.out")
        pstats.Stats("/tmp/p.out").sort_stats("tottime").print_stats(25)
        return

    start = time.perf_counter()
    errors = sum(parse_message(m).parse_error is not None for m in messages)
    single = time.perf_counter() - start

    best_total = 0.0
    for i in range(0, len(messages), CHUNK):
        chunk = messages[i : i + CHUNK]
        best = float("inf")
        for _ in range(ROUNDS):
            start = time.perf_counter()
            for m in chunk:
                parse_message(m)
            best = min(best, time.perf_counter() - start)
        best_total += best

    n = len(messages)
    print(f"{archive}: {n} messages, {total / 1e6:.1f} MB, {errors} with parse_error")
    print(
        f"  single pass:          {single:.2f} s  {n / single:,.0f} msg/s"
        f"  {total / 1e6 / single:.1f} MB/s"
    )
    print(
        f"  best of {ROUNDS} per chunk:  {best_total:.2f} s  {n / best_total:,.0f} msg/s"
        f"  {total / 1e6 / best_total:.1f} MB/s"
    )


if __name__ == "__main__":
    main()
