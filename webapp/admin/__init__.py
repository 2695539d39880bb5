"""The web admin: every page an administrator uses to run the server.

Each module lists its routes as ``ROUTES`` (path, view, methods); the app wraps every one
in ``admin_required``, so no view can forget to. ``admin_routes`` gathers them, and the
test that walks every admin URL as a non-admin reads the same list.
"""

from __future__ import annotations

from collections.abc import Callable

from webapp.admin import (
    accounts,
    aliases,
    audit,
    collectors,
    dashboard,
    dkim,
    domains,
    imports,
    lists,
    queue,
    sending,
    settings,
    trace,
)

MODULES = [dashboard, domains, accounts, aliases, lists, collectors, imports, queue, trace,
           settings, sending, dkim, audit]


def admin_routes() -> list[tuple[str, Callable, list[str]]]:
    return [route for module in MODULES for route in module.ROUTES]
