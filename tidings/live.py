"""The configuration a running server uses: ``tidings.toml`` with the web admin's changes
laid over it, re-read whenever a change is made, so that nothing needs a restart.

Implementation notes:
- The admin's changes live in the database (``store.server_settings``), so every node of a
  cluster sees the same ones. A change made on this node is applied at once (the store
  calls ``refresh``); ``watch`` polls the settings' version for changes made elsewhere.
- A change is checked before it is saved by parsing the whole configuration with it, with
  the same parser that reads the file: the admin and the file cannot disagree on what a
  value means, and a change that would stop the server from starting is refused.
- Services register ``appliers``: each gets the new Config and reconfigures itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from mailstore.store import Store
from tidings import config as config_mod
from tidings.config import Config, ConfigError

Applier = Callable[[Config], Awaitable[None]]

# Settings the web admin may not change: where the database is, and the key that signs
# every session (changing it from a session would sign that session out mid-request).
FILE_ONLY = ("database", "web.secret_key")


class SettingRefused(ValueError):
    """A setting that only tidings.toml can change."""


class LiveConfig:
    def __init__(self, data_dir: Path, store: Store, config: Config) -> None:
        self.data_dir = data_dir
        self.store = store
        self.config = config
        self.raw = config_mod.read_raw(data_dir)
        self.overrides: dict[str, object] = {}
        self.appliers: list[Applier] = []
        self._version: tuple[int, int] | None = None
        self._lock = asyncio.Lock()
        store.server_settings.listeners.append(self.refresh)

    @property
    def source(self) -> str:
        return str(self.data_dir / config_mod.CONFIG_NAME)

    def effective_raw(self, overrides: Mapping[str, object] | None = None) -> dict:
        return config_mod.with_overrides(self.raw, dict(
            self.overrides if overrides is None else overrides))

    def value(self, name: str) -> object:
        """What the server uses for a dotted name (None where the built-in default is)."""
        return config_mod.lookup(self.effective_raw(), name)

    def file_value(self, name: str) -> object:
        return config_mod.lookup(self.raw, name)

    def parse(self, overrides: Mapping[str, object]) -> Config:
        return config_mod.parse(self.effective_raw(overrides), self.data_dir, self.source)

    def check(self, changes: Mapping[str, object]) -> dict[str, str]:
        """The problem with each change, by name; empty when all can be saved.

        Each change is tried on its own over the current settings, so that every field gets
        its own message; then all together, for problems between fields (two ports alike).
        """
        problems: dict[str, str] = {}
        for name, value in changes.items():
            if any(name == f or name.startswith(f + ".") for f in FILE_ONLY):
                problems[name] = "can only be changed in tidings.toml"
                continue
            try:
                self.parse({**self.overrides, name: value})
            except ConfigError as exc:
                problems[name] = _for_field(str(exc), self.source)
        if not problems and changes:
            try:
                self.parse({**self.overrides, **changes})
            except ConfigError as exc:
                problems[next(iter(changes))] = _for_field(str(exc), self.source)
        return problems

    async def load(self) -> Config:
        """Read the admin's changes from the database and parse them over the file."""
        self._version = await self.store.server_settings.version()
        overrides = await self.store.server_settings.all()
        try:
            config = self.parse(overrides)
        except ConfigError as exc:
            # Saved changes are checked first; this only happens when the file changed
            # under them. The server keeps the file's values rather than not starting.
            print(f"tidings: warning: settings changed in the web admin are ignored: {exc}",
                  file=sys.stderr, flush=True)
            return self.config
        self.overrides = overrides
        self.config = config
        return config

    async def refresh(self) -> None:
        """Re-read the settings and reconfigure every service that registered."""
        async with self._lock:
            before = self.config
            config = await self.load()
            if config is before:
                return
            for apply in list(self.appliers):
                try:
                    await apply(config)
                except Exception as exc:  # one service's trouble must not stop the others
                    print(f"tidings: error: applying settings: {exc}", file=sys.stderr,
                          flush=True)

    async def watch(self, interval: float = 5.0) -> None:
        """Poll for changes made on other nodes; runs until cancelled."""
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(Exception):
                if await self.store.server_settings.version() != self._version:
                    await self.refresh()


def _for_field(message: str, source: str) -> str:
    """A ConfigError line without the file name, which means nothing in a web form."""
    return message.removeprefix(f"{source}: ").removeprefix(f"{config_mod.CONFIG_NAME}: ")
