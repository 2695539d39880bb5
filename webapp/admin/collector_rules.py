"""Download rules as the collector form shows them: one rule per line, ``ACTION FIELD VALUE``.

A textarea works without JavaScript, keeps the order the admin typed (the first matching
rule wins), and add / remove / reorder are plain text edits. Examples::

    skip size 10MB
    delete from *@spam.example
    skip subject *lottery*

Sizes take a unit (B, KB, MB, GB; 1 KB = 1024 bytes, as in tidings.toml); the store keeps
bytes. Everything after the field is the value, spaces included.
"""

from __future__ import annotations

import re

from mailstore.collectors import RULE_ACTIONS, RULE_FIELDS, Rule

MAX_RULES = 200
UNITS = {"": 0, "b": 1, "byte": 1, "bytes": 1, "k": 1024, "kb": 1024, "m": 1024 ** 2,
         "mb": 1024 ** 2, "g": 1024 ** 3, "gb": 1024 ** 3}
SIZE = re.compile(r">?\s*(\d+(?:\.\d+)?)\s*([a-z]*)", re.IGNORECASE)


def format_size(size: int) -> str:
    """Bytes as the admin would type them: 10MB, 500KB, or 1234B."""
    for unit, scale in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    return f"{size}B"


def format_rules(rules: tuple[Rule, ...]) -> str:
    """The saved rules as the textarea shows them, one per line, in order."""
    return "\n".join(
        f"{r.action} {r.field} {format_size(int(r.value)) if r.field == 'size' else r.value}"
        for r in rules)


def _parse_line(line: str) -> Rule | str:
    """One line to a Rule, or what is wrong with it."""
    parts = line.split(None, 2)
    action = parts[0].lower()
    if action not in RULE_ACTIONS:
        return f"start with skip or delete, not {parts[0]!r}"
    if len(parts) < 2 or parts[1].lower() not in RULE_FIELDS:
        got = f", not {parts[1]!r}" if len(parts) > 1 else ""
        return f"after {action}, say what to look at: {', '.join(RULE_FIELDS)}{got}"
    field = parts[1].lower()
    value = parts[2].strip() if len(parts) > 2 else ""
    if not value:
        return ("give a size, e.g. 10MB" if field == "size"
                else f"give the text or pattern to look for in {field}")
    if field != "size":
        return Rule(action, field, value)
    match = SIZE.fullmatch(value)
    scale = UNITS.get(match.group(2).lower()) if match else None
    if match is None or scale is None:
        return f"{value!r} is not a size (for example 500KB or 10MB)"
    if scale == 0:
        return f"add a unit to {value}: KB or MB, e.g. {match.group(1)}MB"
    return Rule(action, field, str(int(float(match.group(1)) * scale)))


def parse_rules(text: str) -> tuple[tuple[Rule, ...], str]:
    """The rules typed, in order, and one line naming every bad line ("" when all good).
    Blank lines are ignored."""
    rules: list[Rule] = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        found = _parse_line(line)
        if isinstance(found, Rule):
            rules.append(found)
        else:
            problems.append(f"line {number} ({line[:60]!r}): {found}")
    if len(rules) > MAX_RULES:
        problems.append(f"at most {MAX_RULES} rules")
    return tuple(rules), "; ".join(problems)
