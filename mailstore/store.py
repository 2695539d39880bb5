"""The store: one object that front doors hold, giving one truth to IMAP, POP3 and webmail."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mailstore.accounts import Accounts
from mailstore.audit import AuditLog
from mailstore.blobs import BlobStore
from mailstore.collectors import KEY_FILE, Collectors
from mailstore.contacts import Contacts
from mailstore.database import Database
from mailstore.delivery import LocalDelivery
from mailstore.directory import Directory
from mailstore.dkimkeys import DkimKeys
from mailstore.events import FolderEvents
from mailstore.folders import Folders
from mailstore.identities import Identities
from mailstore.lists import Lists
from mailstore.messages import Messages
from mailstore.outbound import OutboundQueue
from mailstore.outbox import Outbox
from mailstore.preferences import PreferenceStore
from mailstore.routing import Router
from mailstore.search import Search
from mailstore.search_index import SearchIndex
from mailstore.search_results import SearchResults
from mailstore.server_settings import ServerSettings
from mailstore.stats import Stats
from mailstore.throttle import FailureLimiter
from mailstore.trace import Traces
from mailstore.trusted import TrustedSenders


class Store:
    """Metadata database + blob store, with the operations grouped by concern."""

    def __init__(self, database_url: str, blob_root: Path) -> None:
        self.db = Database(database_url)
        self.blobs = BlobStore(blob_root)
        self.blobs.ensure_dirs()
        # Wakes IDLE sessions (and other waiters) after every committed folder change.
        self.events = FolderEvents()
        self.messages = Messages(self.db, self.blobs, self.events)
        self.accounts = Accounts(self.db, self._collect)
        self.folders = Folders(self.db, self._collect, self.events)
        self.search = Search(self.db)
        self.search_index = SearchIndex(self.db)  # SQLite: merges FTS5 segments when quiet
        self.search_results = SearchResults(self.db)
        self.router = Router(self.db)
        self.lists = Lists(self.db)
        self.delivery = LocalDelivery(self.db, self.messages)
        self.traces = Traces(self.db)
        self.outbound = OutboundQueue(self.db)
        self.dkim = DkimKeys(self.db)
        # Webmail display settings per account.
        self.preferences = PreferenceStore(self.db)
        self.trusted_senders = TrustedSenders(self.db)
        self.identities = Identities(self.db, self.router)  # addresses to send as, signatures
        self.contacts = Contacts(self.db)  # address book and people written to
        # Webmail drafts and sending (with the undo window).
        self.outbox = Outbox(self.db, self.folders, self.messages, self.router,
                             self.delivery, self.identities, self.contacts)
        # ISP mailboxes; their passwords' key file sits in the data folder, beside blobs/.
        self.collectors = Collectors(self.db, blob_root.parent / KEY_FILE)
        # The web admin: who changed what, and the settings changed over tidings.toml.
        self.audit = AuditLog(self.db)
        self.server_settings = ServerSettings(self.db)
        # Audited changes to domains, accounts, aliases and lists (the admin's directory).
        self.directory = Directory(self.db, self._collect, self.events)
        self.stats = Stats(self.db)  # the admin dashboard's figures
        # Failed logins per client address, for every front door (tidings.toml [logins]).
        self.logins = FailureLimiter(limit=5, lockout=900)

    async def _collect(self, content_ids: Iterable[int]) -> None:
        await self.messages.collect_garbage(content_ids)

    async def close(self) -> None:
        self.outbox.close()
        await self.outbox.idle()
        await self.db.close()
