"""``tidings queue``: see and steer the outbound queue (the running server picks up a
retried entry within a second)."""

from __future__ import annotations

import argparse
import time
from datetime import datetime

from mailstore.audit import Actor
from mailstore.errors import NotFound
from mailstore.outbound import STATES, QueueEntry, QueueFilter
from tidings.runtime import Runtime


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    queue = sub.add_parser("queue", help="the outbound queue").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    listing = queue.add_parser("list", parents=[common], help="every waiting message")
    listing.add_argument("--from", dest="sender", default="", metavar="ADDRESS",
                         help="the sender contains this")
    listing.add_argument("--to", dest="recipient", default="", metavar="ADDRESS",
                         help="a recipient contains this")
    listing.add_argument("--state", choices=sorted(STATES), default="",
                         help="; ".join(f"{k}: {v}" for k, v in STATES.items()))
    for action, text in (("show", "one entry: envelope, answers so far, headers"),
                         ("retry", "try this entry again now"),
                         ("delete", "remove this entry without sending it"),
                         ("bounce", "return this entry to its sender with a delivery report "
                                    "(the running server sends it)")):
        queue.add_parser(action, parents=[common], help=text).add_argument(
            "id", type=_entry_id, metavar="ID")


# Changes made here are audited like the web admin's, under this name.
CLI = Actor("command line")


def _entry_id(text: str) -> int:
    try:
        return int(text.lstrip("#"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a queue entry number") from exc


async def run(args: argparse.Namespace, rt: Runtime) -> int:
    queue = rt.store.outbound
    if args.action == "list":
        entries = await queue.list(where=QueueFilter(args.sender, args.recipient, args.state))
        for e in entries:
            print(_summary(e))
        print(f"{len(entries)} message(s) in the queue" if entries else "the queue is empty")
    elif args.action == "show":
        _show(await queue.get(args.id))
    elif args.action == "retry":
        await queue.retry(args.id, actor=CLI)
        print(f"queue entry #{args.id} will be tried again now")
    elif args.action == "bounce":
        outcome = await queue.bounce_many([args.id], CLI)
        if outcome.missing:
            raise NotFound(f"no queue entry #{args.id}")
        print(f"queue entry #{args.id} will be returned to <{(await queue.get(args.id)).mail_from}>"
              " by the running server")
    else:
        await queue.delete(args.id, actor=CLI)
        print(f"deleted queue entry #{args.id}")
    return 0


def _when(at: int | None) -> str:
    return datetime.fromtimestamp(at).isoformat(sep=" ", timespec="seconds") if at else "-"


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _summary(e: QueueEntry) -> str:
    pending = ", ".join(r.address for r in e.pending())
    state = "sending now" if e.status == "sending" else \
        f"next try in {_age(e.next_attempt_at - time.time())}"
    line = (f"#{e.id}  {_age(time.time() - e.created_at)} old  {e.size} bytes  "
            f"<{e.mail_from}> -> {pending}  ({e.attempts} attempt(s), {state})")
    return line + (f"\n    {e.last_error}" if e.last_error else "")


def _show(e: QueueEntry) -> None:
    print(f"queue entry #{e.id}: {e.status}, queued {_when(e.created_at)} by {e.origin}, "
          f"{e.size} bytes")
    print(f"from <{e.mail_from}>; {e.attempts} attempt(s); next {_when(e.next_attempt_at)}")
    for r in e.recipients:
        via = f" via {r.remote}" if r.remote else ""
        print(f"  {r.state:<8} <{r.address}>{via}  {r.reply}".rstrip())
    if e.history:
        print("history:")
        for h in e.history:
            tls = f" {h['tls']}" if h.get("tls") else ""
            where = f"{h['host']}[{h['address']}]{tls}" if h.get("host") else "no connection"
            for address, reply in h["answers"]:
                print(f"  {_when(h['at'])} {where} <{address}>: {reply}")
    header, _, _ = (e.message or b"").partition(b"\r\n\r\n")
    print("headers:")
    print(header.decode("utf-8", "replace"))
