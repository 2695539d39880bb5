"""Distribution lists: members, who may post, and the copy the members get."""

from __future__ import annotations

import pytest

from mailstore.errors import AlreadyExists, InvalidName
from mailstore.lists import ListInfo, PostingDenied, list_copy
from mailstore.store import Store

PASSWORD = "correct horse battery"


@pytest.fixture
async def team(store: Store) -> Store:
    await store.accounts.add_domain("example.com")
    for address in ("ann@example.com", "bob@example.com", "cat@example.com"):
        await store.accounts.create(address, PASSWORD)
    await store.lists.create("team@example.com", policy="members", subject_prefix="[team]",
                             reply_to_list=True)
    for member in ("ann@example.com", "bob@example.com", "dan@elsewhere.org"):
        await store.lists.add("team@example.com", member)
    return store


async def test_a_list_delivers_to_local_members_and_forwards_to_external_ones(
        team: Store) -> None:
    route = await team.router.resolve("team@example.com", "ann@example.com")
    assert sorted(m.address for m in route.local) == ["ann@example.com", "bob@example.com"]
    assert route.external == ("dan@elsewhere.org",)
    assert route.list is not None and route.list.subject_prefix == "[team]"


@pytest.mark.parametrize("policy, sender, allowed", [
    ("anyone", "stranger@else.org", True),
    ("members", "bob@example.com", True),
    ("members", "cat@example.com", False),
    ("domain", "cat@example.com", True),
    ("domain", "cat@example.net", False),
    ("senders", "boss@else.org", True),
    ("senders", "ann@example.com", False),
])
async def test_posting_policy(store: Store, policy: str, sender: str, allowed: bool) -> None:
    await store.accounts.add_domain("example.com")
    await store.accounts.create("bob@example.com", PASSWORD)
    await store.lists.create("all@example.com", policy=policy)
    await store.lists.add("all@example.com", "bob@example.com")
    await store.lists.add("all@example.com", "boss@else.org", role="sender")
    if allowed:
        assert (await store.router.resolve("all@example.com", sender)).local
    else:
        with pytest.raises(PostingDenied, match="may post to this list"):
            await store.router.resolve("all@example.com", sender)


async def test_lists_inside_lists_expand_and_loops_stop(team: Store) -> None:
    await team.lists.create("everyone@example.com")
    await team.lists.add("everyone@example.com", "team@example.com")
    await team.lists.add("everyone@example.com", "cat@example.com")
    await team.lists.add("team@example.com", "everyone@example.com")  # a loop
    route = await team.router.resolve("everyone@example.com", "ann@example.com")
    assert sorted(m.address for m in route.local) \
        == ["ann@example.com", "bob@example.com", "cat@example.com"]


async def test_list_names_do_not_collide_with_accounts_or_themselves(team: Store) -> None:
    with pytest.raises(AlreadyExists):
        await team.lists.create("ann@example.com")
    with pytest.raises(InvalidName):
        await team.lists.add("team@example.com", "team@example.com")
    with pytest.raises(InvalidName):
        await team.lists.create("x@example.com", policy="everybody")


def test_members_copy_gets_the_prefix_once_reply_to_and_list_id() -> None:
    info = ListInfo(1, "team@example.com", subject_prefix="[team]", reply_to_list=True)
    raw = (b"From: a@b.c\r\nReply-To: a@b.c\r\nSubject: Lunch\r\n on Friday\r\n"
           b"\r\nbody\r\nSubject: not a header\r\n")
    copy = list_copy(raw, info)
    assert copy.startswith(b"List-Id: <team.example.com>\r\n")
    assert b"Subject: [team] Lunch\r\n on Friday\r\n" in copy
    assert b"Reply-To: a@b.c" not in copy and b"Reply-To: <team@example.com>\r\n" in copy
    assert copy.endswith(b"\r\n\r\nbody\r\nSubject: not a header\r\n")
    again = list_copy(b"Subject: Re: [team] Lunch\r\n\r\nx", info)
    assert again.count(b"[team]") == 1
