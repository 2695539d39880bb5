"""Static assets: our own CSS from ``static/``, and htmx from its PyPI package.

htmx is not copied into the repository: the django-js-lib-htmx package ships
``htmx.min.js`` and we serve that file, so upgrading htmx is a dependency bump.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response

HTMX_PACKAGE = "js_lib_htmx"  # the import name of django-js-lib-htmx
HTMX_FILE = ("static", "htmx", "htmx.min.js")


class MissingAsset(RuntimeError):
    pass


def htmx_path() -> Path:
    try:
        path = Path(str(resources.files(HTMX_PACKAGE).joinpath(*HTMX_FILE)))
    except ModuleNotFoundError as exc:
        raise MissingAsset(
            "htmx is missing: install the django-js-lib-htmx package "
            "(pip install django-js-lib-htmx)") from exc
    if not path.is_file():
        raise MissingAsset(f"htmx.min.js not found at {path}; reinstall django-js-lib-htmx")
    return path


def htmx_endpoint(path: Path) -> Callable[[Request], Awaitable[Response]]:
    async def htmx(request: Request) -> Response:
        return FileResponse(path, media_type="text/javascript",
                            headers={"cache-control": "public, max-age=86400"})

    return htmx
