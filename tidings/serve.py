"""``tidings serve``: every enabled front door in one asyncio event loop.

Implementation notes:
- Listening sockets are bound before anything starts, so a taken port or a bad address
  stops the server at once with one line naming the service, the address and the reason.
- The web app, the three SMTP listeners, IMAP/IMAPS, POP3/POP3S, the outbound queue
  runner and the collector's scheduler all run as tasks of this one loop.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import hashlib
import signal
import socket
import ssl
import sys
from typing import TYPE_CHECKING

import uvicorn

from mailstore.throttle import FailureLimiter
from protocols.delivery.prepare import Preparer
from protocols.delivery.runner import QueueRunner
from protocols.delivery.settings import DeliverySettings
from protocols.delivery.srs import Srs
from protocols.smtp.checks import build_checks, resolver_for
from protocols.smtp.server import SmtpServer
from protocols.smtp.settings import SmtpSettings
from tidings.config import RUNNING_SERVICES, Config
from tidings.control import Control
from tidings.listeners import MAIL_SERVICES, Listeners
from tidings.runtime import Runtime, RuntimeProblem
from tidings.sockets import listen
from tidings.tls import server_context

if TYPE_CHECKING:
    from protocols.collector.scheduler import CollectorScheduler
    from protocols.imap.server import ImapServer
    from protocols.pop3.server import Pop3Server

def bind(cfg: Config, service: str) -> socket.socket:
    """A listening socket for one service, or a RuntimeProblem that says why not."""
    host, port = cfg.bind, cfg.ports[service]
    try:
        return listen(host, port)
    except OSError as exc:
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise RuntimeProblem(
            f"cannot listen on {host}:{port} for {service}: {reason} "
            f"(change [ports] {service} in {cfg.data_dir / 'tidings.toml'})") from exc


def load_tls(cfg: Config) -> ssl.SSLContext:
    try:
        return server_context(cfg.tls_dir)
    except (OSError, ssl.SSLError) as exc:
        raise RuntimeProblem(
            f"cannot load the TLS certificate in {cfg.tls_dir}: {exc}") from exc


# The search index is tidied (``SearchIndex.keep_tidy``) once no mail came for this long.
QUIET_SECONDS = 10.0


async def serve(data_option: str | None, ready: asyncio.Event | None = None) -> None:
    runtime = await Runtime.open(data_option)
    cfg = runtime.config
    sockets: dict[str, socket.socket] = {}
    try:
        tls = load_tls(cfg)
        for name, on in cfg.enabled.items():
            if on and name in RUNNING_SERVICES:
                sockets[name] = bind(cfg, name)
    except RuntimeProblem:
        for sock in sockets.values():
            sock.close()
        await runtime.close()
        raise
    from webapp.app import close_streams, create_app

    smtp_limits = cfg.smtp or SmtpSettings(cfg.hostname)
    control = Control(runtime.live, tls)
    app = create_app(runtime.store, cfg.secret_key, messages_per_page=cfg.messages_per_page,
                     max_message_size=smtp_limits.max_message_size, control=control)
    # Webmail messages whose undo window was running when the server stopped go out now.
    runtime.store.outbox.hostname = cfg.hostname
    await runtime.store.outbox.recover()
    servers: list[uvicorn.Server] = []
    if "web" in sockets:
        web = uvicorn.Server(uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off",
            proxy_headers=False, server_header=False))
        web.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        servers.append(web)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    imap, pop3 = mail_access(runtime, tls)
    collector = start_collector(runtime)
    control.collector = collector  # "run now" in the admin wakes it
    tasks = [asyncio.create_task(s.serve(sockets=[sockets["web"]])) for s in servers]
    runtime.store.logins = FailureLimiter(cfg.login_max_failures, cfg.login_lockout_seconds)
    smtp_settings = cfg.smtp or SmtpSettings(cfg.hostname)
    runtime.store.delivery.duplicate_window = smtp_settings.duplicate_window_hours * 3600
    sender, connect = build_checks(smtp_settings)
    smtp = SmtpServer(runtime.store, smtp_settings, tls, sender_check=sender,
                      connect_check=connect)
    listeners = Listeners(control, smtp, {"imap": imap, "pop3": pop3})
    for name, sock in sockets.items():
        if name in MAIL_SERVICES:
            await listeners.start(name, sock, (cfg.bind, cfg.ports[name]))
    runner = await start_delivery(runtime)

    async def apply_smtp(new: Config) -> None:
        settings = new.smtp or SmtpSettings(new.hostname)
        runtime.store.delivery.duplicate_window = settings.duplicate_window_hours * 3600
        smtp.reconfigure(settings, *build_checks(settings))
        app.state.max_message_size = settings.max_message_size
        apply_access(new, imap, pop3)
        runtime.store.outbox.hostname = new.hostname

    async def apply_delivery(new: Config) -> None:
        # The runner reads its settings on every use: smart hosts, routes and retries
        # changed in the admin apply to the next message (and the next retry).
        settings = new.delivery or DeliverySettings(new.hostname)
        if settings.dns_servers != runner.settings.dns_servers:
            try:
                runner.resolver = resolver_for(settings.dns_servers)
            except RuntimeError as exc:
                print(f"tidings: warning: {exc}", file=sys.stderr, flush=True)
        runner.settings = settings
        # The hostname names us in EHLO (settings), SRS addresses, DKIM's "our domain"
        # check and the collector's Received lines: a new one applies to the next message.
        if runtime.store.router.srs is not None:
            runtime.store.router.srs.domain = new.hostname.lower().rstrip(".")
        if isinstance(runner.prepare, Preparer):
            runner.prepare.hostname = new.hostname.lower()
        collector.collector.hostname = new.hostname
        runner.wake()

    runtime.live.appliers.append(apply_smtp)
    runtime.live.appliers.append(listeners.apply)
    runtime.live.appliers.append(apply_delivery)
    watcher = asyncio.create_task(runtime.live.watch())
    cert_watcher = asyncio.create_task(watch_certificate(control))
    store = runtime.store
    tidier = asyncio.create_task(store.search_index.keep_tidy(
        lambda: store.delivery.quiet(QUIET_SECONDS)))
    trace_keeper = asyncio.create_task(store.traces.keep_recent(
        lambda: runtime.live.config.trace_keep_days))
    for name, sock in sockets.items():
        host, port = sock.getsockname()[:2]
        control.listening[name] = (host, port)
        where = f"http://{host}:{port}/" if name == "web" else f"{host}:{port}"
        print(f"tidings: {name} listening on {where}", file=sys.stderr, flush=True)
    print("tidings: collector scheduler running", file=sys.stderr, flush=True)
    # Everything built so far lives as long as the server: keep it out of the collector's
    # full passes, which otherwise walk it all with the GIL held and stall every thread
    # (under SMTP load: 39-43 ms a pass before, 17-22 ms after).
    gc.freeze()
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        watcher.cancel()
        cert_watcher.cancel()
        tidier.cancel()
        trace_keeper.cancel()
        close_streams(app)  # open /events streams would hold uvicorn's shutdown
        for s in servers:
            s.should_exit = True
        await smtp.stop()
        await runner.stop()
        await collector.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        await imap.close()
        await pop3.close()
        await runtime.close()


async def watch_certificate(control: Control, interval: float = 10.0) -> None:
    """A certificate replaced on disk is served on new connections within ``interval``."""
    told = ""
    while True:
        await asyncio.sleep(interval)
        problem = control.reload_certificate_if_changed()
        if problem and problem != told:
            print(f"tidings: warning: the new TLS certificate in {control.live.config.tls_dir} "
                  f"cannot be used, the old one stays: {problem}", file=sys.stderr, flush=True)
        told = problem


async def start_delivery(runtime: Runtime) -> QueueRunner:
    """The outbound queue runner, named after this host and data folder: after a crash,
    the restarted server takes back at once what it had been sending."""
    cfg = runtime.config
    settings = cfg.delivery or DeliverySettings(cfg.hostname)
    node = f"{socket.gethostname()}:{hashlib.sha256(bytes(cfg.data_dir)).hexdigest()[:8]}"
    try:
        resolver = resolver_for(settings.dns_servers)
    except RuntimeError as exc:  # no resolv.conf: smart hosts still work, MX lookups fail
        print(f"tidings: warning: {exc}", file=sys.stderr, flush=True)
        resolver = resolver_for(["127.0.0.1"])
    # SRS addresses are signed with a key derived from the configured secret: bounces to
    # them keep working across restarts and on every node.
    secret = hashlib.sha256(b"tidings srs\0" + cfg.secret_key.encode()).digest()
    runtime.store.router.srs = Srs(secret, cfg.hostname)
    runner = QueueRunner(runtime.store, settings, resolver, node=node,
                         prepare=Preparer(runtime.store, secret, cfg.hostname))
    await runner.start()
    return runner


def start_collector(runtime: Runtime) -> CollectorScheduler:
    """The collector's scheduler: downloads every enabled ISP mailbox on its interval."""
    from protocols.collector.scheduler import CollectorScheduler

    scheduler = CollectorScheduler(runtime.store, runtime.config.hostname)
    scheduler.start()
    return scheduler


def mail_access(runtime: Runtime, tls: ssl.SSLContext) -> tuple[ImapServer, Pop3Server]:
    """The IMAP and POP3 servers; ``Listeners`` starts them on the sockets the
    configuration switches on (now or after a change in the admin)."""
    from protocols.imap.server import ImapServer
    from protocols.pop3.server import Pop3Server

    imap = ImapServer(runtime.store, runtime.config.hostname, tls)
    pop3 = Pop3Server(runtime.store, runtime.config.hostname, tls)
    apply_access(runtime.config, imap, pop3)
    return imap, pop3


def apply_access(cfg: Config, imap: ImapServer, pop3: Pop3Server) -> None:
    """Hostname and allow/deny lists ([access.allow], [access.deny]) of IMAP and POP3."""
    for name, server in (("imap", imap), ("pop3", pop3)):
        server.hostname = cfg.hostname
        server.access = {False: cfg.access.get(name, ((), ())),
                         True: cfg.access.get(name + "s", ((), ()))}
