"""Search: one box over the current folder or all folders, with advanced fields.

Implementation notes:
- The criteria are those of IMAP SEARCH (``mailstore.search``), answered from the same
  index by ``store.search_results``: a page of matches, newest first, and the total.
- The words of the box must all match (each anywhere in sender, recipients, subject or
  body); "quoted words" stay together. Each advanced field is one substring of its field.
- Dates are whole days, as in IMAP: "since" includes the day, "before" excludes it.
- Every form value comes back into the form; a value that cannot be used gets its error
  next to its field, and no search runs (status 400, so a script can tell).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from mailstore import search as S
from mailstore.names import DELIMITER
from mailstore.search_results import Found
from mailstore.store import Store
from webapp import urls
from webapp.auth import login_required
from webapp.highlight import highlight, snippet
from webapp.templating import render
from webapp.views.mail import folder_links

TEXT_FIELDS = ("from", "to", "subject", "body")
MAX_TEXT = 500
_TERM = re.compile(r'"([^"]*)"|(\S+)')
_LABELS = {"INBOX": "Inbox"}


@dataclass
class SearchForm:
    """What was typed, as typed, and what is wrong with it (field name -> message)."""

    q: str = ""
    scope: str = "folder"
    folder: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    attachment: bool = False
    since: date | None = None
    before: date | None = None
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.q.strip() or any(v.strip() for v in self.fields.values())
                    or self.attachment or self.since or self.before)

    @property
    def advanced(self) -> bool:
        """Whether the advanced panel should start open."""
        return bool(any(self.fields.get(k) for k in (*TEXT_FIELDS, "since", "before"))
                    or self.attachment or (self.errors.keys() - {"q"}))

    def value(self, name: str) -> str:
        return self.fields.get(name, "")

    def url(self, page: int = 1) -> str:
        return urls.search(self.q, scope=self.scope, folder=self.folder, page=page,
                           attachment="1" if self.attachment else "",
                           **{k: self.fields.get(k, "") for k in (*TEXT_FIELDS, "since",
                                                                  "before")})


def terms(q: str) -> list[str]:
    """The words of the box; "quoted words" are one term."""
    found = []
    for match in _TERM.finditer(q):
        word = (match.group(1) if match.group(1) is not None else match.group(2)).strip()
        if word:
            found.append(word)
    return found


def _day(form: SearchForm, name: str) -> date | None:
    text = form.value(name).strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        form.errors[name] = f"“{text}” is not a date; use the form 2024-05-17"
        return None


def read_form(request: Request, folder_names: list[str]) -> SearchForm:
    params = request.query_params
    form = SearchForm(q=params.get("q", ""), scope=params.get("scope", "folder") or "folder",
                      folder=params.get("folder", ""))
    form.fields = {k: params.get(k, "") for k in (*TEXT_FIELDS, "since", "before")}
    form.attachment = params.get("attachment", "") in ("1", "on", "true")
    try:
        form.page = max(1, int(params.get("page", "1")))
    except ValueError:
        form.page = 1
    if form.scope not in ("folder", "all"):
        form.errors["scope"] = "Search this folder or all folders"
        form.scope = "folder"
    if form.folder and form.folder not in folder_names:
        form.errors["folder"] = f"There is no folder named “{form.folder}”"
    for name in ("q", *TEXT_FIELDS):
        value = params.get(name, "") if name == "q" else form.value(name)
        if len(value) > MAX_TEXT:
            form.errors[name] = f"Search for at most {MAX_TEXT} characters"
    form.since, form.before = _day(form, "since"), _day(form, "before")
    if form.since and form.before and form.since >= form.before:
        form.errors["before"] = "“Before” must be a later day than “since”"
    return form


def criterion(form: SearchForm) -> S.Criterion:
    items: list[S.Criterion] = [S.Text("text", t) for t in terms(form.q)]
    items += [S.Text(name, form.value(name).strip()) for name in TEXT_FIELDS
              if form.value(name).strip()]
    if form.since:
        items.append(S.Date("internal", "since", form.since))
    if form.before:
        items.append(S.Date("internal", "before", form.before))
    return S.And(tuple(items))


@dataclass(frozen=True, slots=True)
class ResultRow:
    found: Found
    folder: str
    folder_label: str
    url: str
    sender: Markup
    subject: Markup
    snippet: Markup


def _label(name: str) -> str:
    return _LABELS.get(name, name.replace(DELIMITER, " / "))


def result_rows(form: SearchForm, items: list[Found], names: dict[int, str]) -> list[ResultRow]:
    words = terms(form.q)

    def marks(*own: str) -> list[str]:
        return words + [form.value(k).strip() for k in own if form.value(k).strip()]

    rows = []
    for item in items:
        name = names[item.folder_id]
        sender = item.from_display or item.from_addr or "(unknown sender)"
        rows.append(ResultRow(
            found=item, folder=name, folder_label=_label(name),
            url=urls.message(name, item.uid, back=form.url(form.page)),
            sender=highlight(sender, marks("from")),
            subject=highlight(item.subject or "(no subject)", marks("subject")),
            snippet=snippet(item.body_start, marks("body"), fallback=item.preview),
        ))
    return rows


@login_required
async def search_page(request: Request) -> Response:
    store: Store = request.app.state.store
    account = request.state.account
    folders = await store.folders.list(account.id)
    by_name = {f.name: f for f in folders}
    form = read_form(request, list(by_name))
    # The folder searched: the one chosen, else the one the box was on, else the Inbox.
    current = by_name.get(form.folder) or by_name.get("INBOX") or folders[0]
    per_page: int = request.app.state.messages_per_page
    context: dict[str, object] = {
        "search": form, "folders": folder_links(folders, None),
        "folder": current,
        "rows": [], "total": 0, "more": False, "page": 1, "pages": 1, "searched": False,
    }
    if form.errors or form.empty:
        return render(request, "search.html", context,
                      status_code=400 if form.errors else 200)
    scope = None if form.scope == "all" else [current.id]
    wanted = criterion(form)
    offset = (form.page - 1) * per_page
    found = await store.search_results.page(
        account.id, wanted, folder_ids=scope, has_attachments=form.attachment,
        offset=offset, limit=per_page)
    if not found.items and found.total:  # past the last page: show the last one
        form.page = math.ceil(found.total / per_page)
        offset = (form.page - 1) * per_page
        found = await store.search_results.page(
            account.id, wanted, folder_ids=scope, has_attachments=form.attachment,
            offset=offset, limit=per_page)
    names = {f.id: f.name for f in folders}
    context.update(
        rows=result_rows(form, found.items, names), total=found.total, more=found.more,
        page=form.page, searched=True,
        # "More than" a capped total: one page beyond what was counted stays reachable.
        pages=max(1, math.ceil(found.total / per_page)) + (1 if found.more else 0),
        first=offset + 1 if found.items else 0, last=offset + len(found.items),
        scope_label="all folders" if form.scope == "all" else _label(current.name),
    )
    return render(request, "search.html", context)
