"""The ``tidings`` command.

Every subcommand takes ``--data DIR`` (else ``$TIDINGS_DATA``, else ``./data``). Errors a
user can cause are printed as one line, ``tidings: <what is wrong>``, with exit status 1;
usage errors exit 2 (argparse). Never a traceback for a user mistake.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import re
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from mailstore.database import DatabaseURLError
from mailstore.directory import MIN_PASSWORD
from mailstore.errors import StoreError
from mailstore.mailboxes import NotAMailbox, count_messages
from tidings import config as config_mod
from tidings import queuecmd
from tidings.config import ConfigError
from tidings.runtime import Runtime, RuntimeProblem, init_data_dir


class CommandError(Exception):
    """A problem to report as one line."""


def parse_size(text: str) -> int:
    try:
        return config_mod.parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tidings", description="Tidings mail server")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data", metavar="DIR",
                        help="data folder (default: $TIDINGS_DATA, then ./data)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = sub.add_parser("init", parents=[common], help="create a data folder")
    init.add_argument("--admin", metavar="ADDRESS", default="admin@localhost",
                      help="address of the first admin account (default admin@localhost)")
    init.add_argument("--hostname", help="the server's host name")
    sub.add_parser("serve", parents=[common], help="run the server")

    domain = sub.add_parser("domain", help="manage local domains").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    domain.add_parser("add", parents=[common]).add_argument("name")
    domain.add_parser("list", parents=[common])
    domain.add_parser("remove", parents=[common]).add_argument("name")

    user = sub.add_parser("user", help="manage accounts").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    add = user.add_parser("add", parents=[common])
    add.add_argument("address")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input")
    add.add_argument("--admin", action="store_true", help="make the account an admin")
    add.add_argument("--quota", type=parse_size, help="mailbox size limit, e.g. 2G")
    user.add_parser("list", parents=[common])
    passwd = user.add_parser("passwd", parents=[common])
    passwd.add_argument("address")
    passwd.add_argument("--password-stdin", action="store_true")
    user.add_parser("remove", parents=[common]).add_argument("address")

    imp = sub.add_parser("import", parents=[common], help="import an mbox file or a Maildir")
    imp.add_argument("address")
    imp.add_argument("path", type=Path)
    imp.add_argument("--folder", default="INBOX", help="target folder (default INBOX)")
    exp = sub.add_parser("export", parents=[common], help="export an account as a Maildir")
    exp.add_argument("address")
    exp.add_argument("dest", type=Path)
    alias = sub.add_parser("alias", help="addresses delivered elsewhere").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    for action in ("add", "remove"):
        one = alias.add_parser(action, parents=[common])
        one.add_argument("address", help="the alias; *@domain catches everything else, "
                                         "sales-*@domain matches a pattern")
        one.add_argument("target", help="a local or external address")
    alias.add_parser("list", parents=[common])

    lists = sub.add_parser("list", help="distribution lists").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    new = lists.add_parser("add", parents=[common])
    new.add_argument("address")
    new.add_argument("--policy", choices=("anyone", "members", "domain", "senders"),
                     default="anyone", help="who may post (default anyone)")
    new.add_argument("--prefix", default="", help="subject prefix, e.g. [team]")
    new.add_argument("--reply-to-list", action="store_true",
                     help="replies go to the list, not the sender")
    lists.add_parser("show", parents=[common]).add_argument("address", nargs="?")
    lists.add_parser("remove", parents=[common]).add_argument("address")
    for action in ("join", "leave"):
        member = lists.add_parser(action, parents=[common])
        member.add_argument("address", help="the list")
        member.add_argument("member")
        member.add_argument("--sender", action="store_true",
                            help="an allowed sender (policy senders), not a member")

    dkim = sub.add_parser("dkim", help="DKIM signing keys of our domains").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    generate = dkim.add_parser("generate", parents=[common],
                               help="make a key and print the DNS record to publish")
    generate.add_argument("domain")
    generate.add_argument("--selector", default="tidings",
                          help="the key's name in DNS (default tidings)")
    generate.add_argument("--algorithm", choices=("rsa", "ed25519"), default="rsa",
                          help="rsa (2048 bits, default) or ed25519")
    dkim.add_parser("list", parents=[common])
    remove_key = dkim.add_parser("remove", parents=[common])
    remove_key.add_argument("domain")
    remove_key.add_argument("selector")
    add_collector_parser(sub, common)

    trace = sub.add_parser("trace", parents=[common],
                           help="show the message trace (newest first)")
    trace.add_argument("--from", dest="sender", metavar="ADDRESS",
                       help="envelope sender contains this")
    trace.add_argument("--to", dest="recipient", metavar="ADDRESS",
                       help="a recipient contains this")
    trace.add_argument("--since", type=parse_since, metavar="WHEN",
                       help="an ISO date/time (2026-12-01 or 2026-12-01T09:30) or an age "
                            "such as 2h or 3d")
    trace.add_argument("--until", type=parse_since, metavar="WHEN",
                       help="only before this (same forms as --since)")
    trace.add_argument("--message-id", metavar="ID", help="the Message-ID, with or without <>")
    trace.add_argument("--ip", dest="client_ip", metavar="ADDRESS",
                       help="the client's (or, for outbound, the server's) IP address")
    trace.add_argument("--limit", type=int, default=100)
    queuecmd.add_parser(sub, common)
    return parser


def add_collector_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser
                         ) -> None:
    collector = sub.add_parser("collector", help="download mail from ISP mailboxes"
                               ).add_subparsers(dest="action", required=True, metavar="ACTION")
    add = collector.add_parser("add", parents=[common], help="add an ISP mailbox")
    add.add_argument("name")
    add.add_argument("--protocol", choices=("pop3", "imap"), required=True)
    add.add_argument("--host", required=True)
    add.add_argument("--port", type=int)
    add.add_argument("--tls", choices=("implicit", "starttls", "none"), default="implicit",
                     help="implicit (995/993, the default), starttls (110/143) or none")
    add.add_argument("--user", required=True, help="the user name at the ISP")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the ISP password from standard input")
    to = add.add_mutually_exclusive_group(required=True)
    to.add_argument("--to", metavar="ADDRESS", help="deliver everything to this local address")
    to.add_argument("--multidrop", action="store_true",
                    help="route each message by its headers (needs --default)")
    add.add_argument("--default", metavar="ADDRESS",
                     help="multi-drop: where mail for nobody here goes")
    add.add_argument("--interval", type=parse_duration, default=300, metavar="TIME",
                     help="how often to collect, e.g. 5m (default) or 1h")
    add.add_argument("--timeout", type=parse_duration, default=60, metavar="TIME",
                     help="how long to wait for the ISP (default 60s)")
    keep = add.add_mutually_exclusive_group()
    keep.add_argument("--leave-on-server", action="store_true",
                      help="leave collected mail at the ISP (the default)")
    keep.add_argument("--delete", action="store_true",
                      help="delete at the ISP once stored here")
    add.add_argument("--delete-after-days", type=int, metavar="N",
                     help="with --leave-on-server: delete at the ISP N days after collecting")
    add.add_argument("--max-size", type=parse_size, metavar="SIZE",
                     help="leave bigger messages at the ISP and tell the recipient, e.g. 10M")
    add.add_argument("--rule", action="append", default=[], metavar="ACTION:FIELD:VALUE",
                     help="skip|delete : size|from|to|cc|subject : value, e.g. "
                          "delete:from:*@spam.example (repeatable)")
    add.add_argument("--folder", default="INBOX", help="IMAP folder (default INBOX)")
    add.add_argument("--insecure-tls", action="store_true",
                     help="accept the ISP's certificate without checking it (self-signed)")
    add.add_argument("--disabled", action="store_true", help="add it without collecting yet")
    collector.add_parser("list", parents=[common], help="accounts with their last run")
    collector.add_parser("run", parents=[common], help="collect now").add_argument("name")
    collector.add_parser("remove", parents=[common]).add_argument("name")


def parse_duration(text: str) -> int:
    """``90``, ``90s``, ``5m``, ``1h``, ``1d`` → seconds."""
    match = re.fullmatch(r"(\d+)([smhd]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (for example 5m or 1h)")
    return int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


def parse_since(text: str) -> int:
    """``2026-12-01``, ``2026-12-01T09:30`` (local time) or an age: ``90m``, ``2h``, ``3d``."""
    age = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if age:
        seconds = int(age.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[age.group(2)]
        return int(time.time()) - seconds
    try:
        return int(datetime.fromisoformat(text.strip()).timestamp())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time (for example 2026-12-01, 2026-12-01T09:30 or 2h)") from exc


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise CommandError("the two passwords differ")
    if len(password) < MIN_PASSWORD:  # the web admin's rule too
        raise CommandError(f"the password must have at least {MIN_PASSWORD} characters")
    return password


async def with_runtime(args: argparse.Namespace,
                       action: Callable[[Runtime], Awaitable[int]]) -> int:
    runtime = await Runtime.open(args.data)
    try:
        return await action(runtime)
    finally:
        await runtime.close()


async def cmd_domain(args: argparse.Namespace) -> int:
    async def run(rt: Runtime) -> int:
        if args.action == "add":
            info = await rt.store.accounts.add_domain(args.name)
            print(f"added domain {info.name}")
        elif args.action == "list":
            for info in await rt.store.accounts.list_domains():
                print(f"{info.name}\t{info.accounts} account(s)")
        else:
            await rt.store.accounts.remove_domain(args.name)
            print(f"removed domain {args.name}")
        return 0
    return await with_runtime(args, run)


async def cmd_alias(args: argparse.Namespace) -> int:
    async def run(rt: Runtime) -> int:
        accounts = rt.store.accounts
        if args.action == "add":
            await accounts.add_alias(args.address, args.target)
            print(f"added alias {args.address} -> {args.target}")
        elif args.action == "remove":
            await accounts.remove_alias(args.address, args.target)
            print(f"removed alias {args.address} -> {args.target}")
        else:
            for address, target in await accounts.aliases():
                print(f"{address}\t{target}")
        return 0
    return await with_runtime(args, run)


async def cmd_list(args: argparse.Namespace) -> int:
    async def run(rt: Runtime) -> int:
        lists = rt.store.lists
        if args.action == "add":
            info = await lists.create(args.address, args.policy, args.prefix,
                                      args.reply_to_list)
            print(f"added list {info.address} (who may post: {info.policy})")
        elif args.action == "remove":
            await lists.remove(args.address)
            print(f"removed list {args.address}")
        elif args.action in ("join", "leave"):
            role = "sender" if args.sender else "member"
            if args.action == "join":
                await lists.add(args.address, args.member, role)
            else:
                await lists.discard(args.address, args.member, role)
            print(f"{args.member} {'joined' if args.action == 'join' else 'left'} "
                  f"{args.address} as a {role}")
        else:
            infos = [await lists.get(args.address)] if args.address else await lists.all()
            for info in infos:
                extras = [f"prefix {info.subject_prefix!r}"] if info.subject_prefix else []
                extras += ["replies to the list"] if info.reply_to_list else []
                print(f"{info.address}\twho may post: {info.policy}"
                      + "".join(f"; {e}" for e in extras))
                for member in info.members:
                    print(f"    member {member}")
                for sender in info.senders:
                    print(f"    sender {sender}")
        return 0
    return await with_runtime(args, run)


async def cmd_user(args: argparse.Namespace) -> int:
    async def run(rt: Runtime) -> int:
        accounts = rt.store.accounts
        if args.action == "add":
            password = read_password(args.password_stdin)
            info = await accounts.create(args.address, password, is_admin=args.admin,
                                         quota_bytes=args.quota)
            print(f"added {'admin ' if info.is_admin else ''}account {info.address}")
        elif args.action == "list":
            for info in await accounts.list():
                quota = f"{info.quota_bytes}" if info.quota_bytes else "unlimited"
                role = "admin" if info.is_admin else "user"
                print(f"{info.address}\t{role}\tused {info.used_bytes} of {quota} bytes")
        elif args.action == "passwd":
            await accounts.get(args.address)
            await accounts.set_password(args.address, read_password(args.password_stdin))
            print(f"changed the password of {args.address}")
        else:
            await accounts.remove(args.address)
            print(f"removed account {args.address} and its mail")
        return 0
    return await with_runtime(args, run)


async def cmd_import(args: argparse.Namespace) -> int:
    from mailstore.importer import ImportReport, import_mailbox

    async def run(rt: Runtime) -> int:
        account = await rt.store.accounts.get(args.address)
        total = count_messages(args.path)
        bar = ProgressBar(total)

        def progress(report: ImportReport) -> None:
            bar.update(report.imported + report.skipped_total)
            # One line per committed batch on a pipe: what was printed is durable.
            if not sys.stderr.isatty():
                print(f"imported {report.imported}", file=sys.stderr, flush=True)

        report = await import_mailbox(rt.store, account.id, args.path, args.folder, progress)
        bar.finish()
        print(f"imported {report.imported} message(s) into {len(report.folders)} folder(s); "
              f"skipped {report.skipped_total}")
        for reason, n in sorted(report.skipped.items()):
            print(f"  skipped {n}: {reason}")
        return 0
    return await with_runtime(args, run)


async def cmd_export(args: argparse.Namespace) -> int:
    from mailstore.importer import export_maildir

    async def run(rt: Runtime) -> int:
        account = await rt.store.accounts.get(args.address)
        count = await export_maildir(rt.store, account.id, args.dest)
        print(f"exported {count} message(s) to {args.dest}")
        return 0
    return await with_runtime(args, run)


class ProgressBar:
    """A one-line progress bar on a terminal; silent when stderr is not a terminal."""

    def __init__(self, total: int) -> None:
        self.total = max(total, 1)
        self.tty = sys.stderr.isatty()

    def update(self, done: int) -> None:
        if not self.tty:
            return
        share = min(done / self.total, 1.0)
        filled = int(share * 30)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{self.total}")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


async def cmd_trace(args: argparse.Namespace) -> int:
    async def run(rt: Runtime) -> int:
        records = await rt.store.traces.find(sender=args.sender, recipient=args.recipient,
                                             since=args.since, until=args.until,
                                             message_id=args.message_id,
                                             client_ip=args.client_ip, limit=args.limit)
        for t in records:
            when = datetime.fromtimestamp(t.at).isoformat(sep=" ", timespec="seconds")
            who = f" as {t.auth_user}" if t.auth_user else ""
            print(f"{when}  {t.verdict:<9} {t.listener} from {t.client_ip}{who} "
                  f"<{t.mail_from}> {t.size} bytes {t.message_id}".rstrip())
            if t.reply:
                print(f"    {t.reply}")
            for r in t.recipients:
                where = f" -> {r.destination}" if r.destination else ""
                print(f"    {r.verdict:<9} <{r.address}>{where}  {r.reply}".rstrip())
        if not records:
            print("no transactions match")
        return 0
    return await with_runtime(args, run)


async def cmd_dkim(args: argparse.Namespace) -> int:
    async def run(rt: Runtime) -> int:
        keys = rt.store.dkim
        if args.action == "generate":
            info = await keys.generate(args.domain, args.selector, args.algorithm)
            print(f"created a DKIM key for {info.domain} ({info.algorithm}, selector "
                  f"{info.selector}); mail from {info.domain} is signed with it from now on.")
            print(f"Publish this TXT record in the DNS of {info.domain} (receivers check the "
                  "signatures against it):")
            print(f"  name:  {info.dns_name}")
            print(f"  value: {info.txt_record}")
            print("or, as a line of a zone file:")
            print(f"  {info.zone_line}")
            print(f"Check it once published: dig +short TXT {info.dns_name}")
        elif args.action == "list":
            infos = await keys.list()
            for info in infos:
                created = datetime.fromtimestamp(info.created_at).date().isoformat()
                state = "active" if info.active else "inactive"
                print(f"{info.domain}\t{info.selector}\t{info.algorithm}\tcreated {created}"
                      f"\t{state}\tTXT {info.dns_name}")
            if not infos:
                print("no DKIM keys (make one with: tidings dkim generate DOMAIN)")
        else:
            await keys.remove(args.domain, args.selector)
            print(f"removed the DKIM key of {args.domain} with selector {args.selector}; "
                  f"its TXT record {args.selector}._domainkey.{args.domain} can go from DNS")
        return 0
    return await with_runtime(args, run)


async def cmd_collector(args: argparse.Namespace) -> int:
    from mailstore.collectors import CollectorSettings, Rule

    def rules() -> tuple[Rule, ...]:
        out = [Rule("skip", "size", str(args.max_size))] if args.max_size else []
        for text in args.rule:
            action, _, rest = text.partition(":")
            field, _, value = rest.partition(":")
            if field == "size" and value:
                value = str(parse_size(value))
            out.append(Rule(action, field, value))
        return tuple(out)

    def settings() -> CollectorSettings:
        if args.multidrop and not args.default:
            raise CommandError("--multidrop needs --default ADDRESS (where mail for nobody "
                               "here goes)")
        if args.delete_after_days is not None and args.delete:
            raise CommandError("--delete-after-days goes with --leave-on-server, not --delete")
        password = (sys.stdin.readline() if args.password_stdin
                    else getpass.getpass("ISP password: ")).rstrip("\r\n")
        if not password:
            raise CommandError("the ISP password is empty")
        return CollectorSettings(
            name=args.name, protocol=args.protocol, host=args.host, port=args.port,
            tls=args.tls, verify_tls=not args.insecure_tls, username=args.user,
            password=password, recipient=args.default if args.multidrop else args.to,
            interval=args.interval, timeout=args.timeout, enabled=not args.disabled,
            multidrop=args.multidrop, leave_on_server=not args.delete,
            delete_after_days=args.delete_after_days, folder=args.folder, rules=rules())

    async def run(rt: Runtime) -> int:
        collectors = rt.store.collectors
        if args.action == "add":
            account = await collectors.add(settings())
            mode = (f"multi-drop, default {account.recipient}" if account.multidrop
                    else f"to {account.recipient}")
            print(f"added collector {account.name}: {account.where} ({account.tls} TLS), "
                  f"{mode}, every {account.interval} s")
        elif args.action == "list":
            for a in await collectors.list():
                last = (datetime.fromtimestamp(a.last_run_at).isoformat(sep=" ",
                                                                        timespec="seconds")
                        if a.last_run_at else "never")
                state = "enabled" if a.enabled else "disabled"
                mode = f"multi-drop default {a.recipient}" if a.multidrop else a.recipient
                keep = "leave on server" if a.leave_on_server else "delete after fetching"
                if a.delete_after_days is not None:
                    keep += f", delete after {a.delete_after_days} days"
                print(f"{a.name}\t{a.where}\t{state}\tevery {a.interval} s\t-> {mode}\t{keep}")
                print(f"    last run: {last}: {a.last_result or '-'}")
                if a.last_error:
                    print(f"    last error ({a.failures} in a row): {a.last_error}")
            if not await collectors.list():
                print("no collectors")
        elif args.action == "run":
            from protocols.collector.runner import Collector

            account = await collectors.get(args.name)
            outcome = await Collector(rt.store, rt.config.hostname).run(account.id)
            if outcome.busy:
                raise CommandError(f"collector {account.name} is running elsewhere right now; "
                                   "try again in a moment")
            for line in outcome.report.lines:
                print(line)
            print(f"{account.name}: {outcome.report.summary()}")
            if outcome.error:
                raise CommandError(f"collector {account.name}: {outcome.error}")
        else:
            await collectors.remove(args.name)
            print(f"removed collector {args.name}")
        return 0
    return await with_runtime(args, run)


async def cmd_queue(args: argparse.Namespace) -> int:
    return await with_runtime(args, lambda rt: queuecmd.run(args, rt))


async def cmd_init(args: argparse.Namespace) -> int:
    password = secrets.token_urlsafe(12)
    result = await init_data_dir(args.data, args.admin, password, args.hostname)
    print(result)
    return 0


async def cmd_serve(args: argparse.Namespace) -> int:
    from tidings.serve import serve

    await serve(args.data)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], Awaitable[int]]] = {
    "init": cmd_init, "serve": cmd_serve, "domain": cmd_domain, "user": cmd_user,
    "import": cmd_import, "export": cmd_export, "trace": cmd_trace, "alias": cmd_alias,
    "list": cmd_list, "queue": cmd_queue, "dkim": cmd_dkim, "collector": cmd_collector,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(COMMANDS[args.command](args))
    except (CommandError, ConfigError, DatabaseURLError, StoreError, NotAMailbox,
            RuntimeProblem) as exc:
        print(f"tidings: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
