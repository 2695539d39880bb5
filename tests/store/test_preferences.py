"""Webmail display preferences: defaults, saving, and refusing what is not a valid setting."""

from __future__ import annotations

import pytest

from mailstore.preferences import InvalidPreference, Preferences
from mailstore.store import Store
from mailstore.values import AccountInfo


async def test_a_new_account_has_the_default_preferences(
        store: Store, account: AccountInfo) -> None:
    assert await store.preferences.get(account.id) == Preferences()


async def test_saved_preferences_are_read_back(store: Store, account: AccountInfo) -> None:
    wanted = Preferences(density="compact", thread_view=True, reading_pane="bottom",
                         per_page=100)
    await store.preferences.save(account.id, wanted)
    assert await store.preferences.get(account.id) == wanted


@pytest.mark.parametrize(("field", "value"), [
    ("density", "tiny"), ("reading_pane", "left"), ("per_page", 0), ("per_page", 5000)])
async def test_an_invalid_setting_is_refused_naming_the_field_and_nothing_is_saved(
        store: Store, account: AccountInfo, field: str, value: object) -> None:
    with pytest.raises(InvalidPreference) as refused:
        await store.preferences.save(account.id, Preferences(**{field: value}))
    assert refused.value.field == field
    assert await store.preferences.get(account.id) == Preferences()


def test_a_stored_document_with_unknown_or_broken_values_falls_back_to_defaults() -> None:
    assert Preferences.from_json('{"density": "compact", "colour": "red"}') == \
        Preferences(density="compact")
    assert Preferences.from_json('{"per_page": "lots"}') == Preferences()
    assert Preferences.from_json("not json") == Preferences()
