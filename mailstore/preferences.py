"""A user's webmail display settings, kept as one JSON document per account.

Implementation notes:
- Unknown keys in the stored document are ignored and missing ones take their defaults, so
  settings can be added or dropped without a migration.
- ``Preferences.validated`` is the one place that says what a valid setting is; the settings
  page turns its ``InvalidPreference`` into an error next to the field.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from sqlalchemy import delete, insert, select

from mailstore.database import Database
from mailstore.errors import StoreError
from mailstore.models import Preferences as PreferencesRow

P = PreferencesRow.__table__

DENSITIES = ("comfortable", "compact")
READING_PANES = ("right", "bottom", "off")
PER_PAGE_RANGE = (10, 200)


class InvalidPreference(StoreError):
    """A setting outside its allowed values; ``field`` names it for the form."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Preferences:
    density: str = "comfortable"
    thread_view: bool = False
    reading_pane: str = "right"
    per_page: int = 50

    def validated(self) -> Preferences:
        if self.density not in DENSITIES:
            raise InvalidPreference("density", f"density must be one of {', '.join(DENSITIES)}")
        if self.reading_pane not in READING_PANES:
            raise InvalidPreference(
                "reading_pane", f"reading pane must be one of {', '.join(READING_PANES)}")
        low, high = PER_PAGE_RANGE
        if not isinstance(self.per_page, int) or not low <= self.per_page <= high:
            raise InvalidPreference(
                "per_page", f"messages per page must be a number from {low} to {high}")
        return self

    @classmethod
    def from_json(cls, text: str) -> Preferences:
        try:
            data = json.loads(text)
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        known = {f.name: f.type for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in data.items() if k in known}
        try:
            return cls(**kept).validated()
        except (InvalidPreference, TypeError):
            return cls()

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


class PreferenceStore:
    """Read and save each account's ``Preferences``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, account_id: int) -> Preferences:
        async with self.db.read() as conn:
            text = (await conn.execute(
                select(P.c.data).where(P.c.account_id == account_id))).scalar_one_or_none()
        return Preferences() if text is None else Preferences.from_json(text)

    async def save(self, account_id: int, preferences: Preferences) -> Preferences:
        """Validate and store; raises ``InvalidPreference`` and stores nothing when invalid."""
        preferences.validated()
        async with self.db.write() as conn:
            await conn.execute(delete(P).where(P.c.account_id == account_id))
            await conn.execute(insert(P).values(account_id=account_id,
                                                data=preferences.to_json()))
        return preferences
