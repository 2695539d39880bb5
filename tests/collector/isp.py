"""A real "ISP" for the collector tests: Dovecot (POP3 + IMAP) on loopback high ports.

The shape (``Isp``) is what the collector tests need from any ISP: where it listens, a
fresh mailbox per test, a way to drop messages into it and to count what is left. Another
server (Tidings's own POP3 server) can fill the same shape.

Dovecot runs with its own config file (``dovecot -F -c conf``): base_dir, state and mail in
a temporary folder, each user in a passwd-file of its own (written whole, then renamed), Maildir
mailboxes, and a self-signed certificate (so certificate verification fails unless the
account accepts it, which is the "self-signed ISP" case).
"""

from __future__ import annotations

import getpass
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tidings.tls import create_self_signed

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
SERVICES = ("pop3", "pop3s", "imap", "imaps")


class Isp(Protocol):
    host: str
    ports: dict[str, int]  # pop3 (STLS), pop3s, imap (STARTTLS), imaps
    protocols: tuple[str, ...]  # which of pop3/imap it serves

    def new_mailbox(self) -> tuple[str, str]:
        """A new empty mailbox: (user, password)."""
        ...

    def put(self, user: str, raw: bytes) -> None:
        """Drop one message into the user's INBOX, byte for byte."""
        ...

    def count(self, user: str) -> int:
        """How many messages the user's INBOX holds."""
        ...


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class DovecotIsp:
    root: Path
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=dict)
    protocols: tuple[str, ...] = ("pop3", "imap")
    process: subprocess.Popen | None = None
    uid: int = 0
    gid: int = 0
    _serial: int = 0

    @property
    def users_dir(self) -> Path:
        """One passwd-file per user: a user added while Dovecot reads is never half there
        (a shared file re-read on change raced with the appends)."""
        return self.root / "users"

    def maildir(self, user: str) -> Path:
        return self.root / "mail" / user

    def start(self) -> None:
        self.root.chmod(0o755)  # Dovecot's unprivileged processes read the users files
        cert, key = create_self_signed(self.root / "tls", "localhost")
        key.chmod(0o644)
        (self.root / "mail").mkdir()
        self.users_dir.mkdir()
        self.users_dir.chmod(0o755)
        self.ports = {name: free_port() for name in SERVICES}
        root_user = os.getuid() == 0
        # Dovecot never runs a mail process as root: as root, mail belongs to "nobody".
        self.uid, self.gid = (65534, 65534) if root_user else (os.getuid(), os.getgid())
        os.chown(self.root / "mail", self.uid, self.gid)
        me = "dovecot" if root_user else getpass.getuser()
        login = "dovenull" if root_user else getpass.getuser()
        conf = self.root / "dovecot.conf"
        conf.write_text(f"""
protocols = imap pop3
listen = 127.0.0.1
base_dir = {self.root}/run
state_dir = {self.root}/state
instance_name = tidings-isp-{secrets.token_hex(3)}
log_path = {self.root}/dovecot.log
default_internal_user = {me}
default_login_user = {login}
first_valid_uid = 0
first_valid_gid = 0
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
# many wrong passwords in a row from one address: answer at once, every time
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
mail_location = maildir:{self.root}/mail/%u
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.users_dir}/%u
}}
userdb {{
  driver = static
  args = uid={self.uid} gid={self.gid} home={self.root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {self.ports['imap']}
  }}
  inet_listener imaps {{
    port = {self.ports['imaps']}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {self.ports['pop3']}
  }}
  inet_listener pop3s {{
    port = {self.ports['pop3s']}
    ssl = yes
  }}
}}
""")
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot stopped: {self.process.stderr.read().decode()}"
                                   f"{self._log()}")
            if all(_listening(self.host, p) for p in self.ports.values()):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not start listening{self._log()}")

    def _log(self) -> str:
        log = self.root / "dovecot.log"
        return "\n" + log.read_text()[-2000:] if log.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def new_mailbox(self) -> tuple[str, str]:
        self._serial += 1
        user, password = f"u{self._serial}{secrets.token_hex(3)}", secrets.token_urlsafe(12)
        for sub in ("", "new", "cur", "tmp"):
            (self.maildir(user) / sub).mkdir(exist_ok=True)
            os.chown(self.maildir(user) / sub, self.uid, self.gid)
        entry = self.users_dir / f".{user}.tmp"
        entry.write_text(f"{user}:{password}\n")
        entry.chmod(0o644)
        entry.rename(self.users_dir / user)
        return user, password

    def put(self, user: str, raw: bytes) -> None:
        self._serial += 1
        name = f"{time.time_ns()}.P{os.getpid()}Q{self._serial}.isp"
        tmp = self.maildir(user) / "tmp" / name
        tmp.write_bytes(raw)
        os.chown(tmp, self.uid, self.gid)
        tmp.rename(self.maildir(user) / "new" / name)

    def count(self, user: str) -> int:
        return sum(1 for sub in ("new", "cur") for _ in (self.maildir(user) / sub).iterdir())


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def start_dovecot() -> DovecotIsp:
    # A short path: Dovecot's unix sockets live under base_dir (sun_path is ~108 bytes).
    isp = DovecotIsp(Path(tempfile.mkdtemp(prefix="isp")))
    isp.start()
    return isp
