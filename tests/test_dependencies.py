"""Every third-party module the server imports is a runtime dependency in pyproject.toml.

The test extras install more than the server needs, so the suite alone would not notice a
runtime import that only the test extras happen to provide (aiosmtplib once broke
``scripts/run`` on a fresh machine exactly so).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SERVER_PACKAGES = ("mailstore", "protocols", "webapp", "tidings")


def _imported_top_level_modules() -> set[str]:
    found: set[str] = set()
    for package in SERVER_PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - set(SERVER_PACKAGES)


def _runtime_distributions() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = (re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0] for spec in project["dependencies"])
    return {_normalise(name) for name in names}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_third_party_import_of_the_server_is_a_runtime_dependency() -> None:
    declared = _runtime_distributions()
    providers = packages_distributions()
    missing = {}
    for module in sorted(_imported_top_level_modules()):
        distributions = {_normalise(d) for d in providers.get(module, [])}
        if not distributions:
            missing[module] = "no installed distribution provides it"
        elif not distributions & declared:
            missing[module] = f"provided by {sorted(distributions)}, not declared"
    assert not missing, missing

