"""IMAP command parser: a pure function from the bytes of one command to a typed command.

Implementation notes:
- ``parse_command(data)`` takes one complete command as the client sent it: the tag, the
  arguments, every literal's ``{n}\\r\\n`` header and its n bytes, and the final CRLF. The
  session frames commands with ``literal_at_end`` (it alone does I/O: continuation requests
  for synchronising literals, limits before reading a literal). The parser never reads
  beyond ``data`` and never raises anything but ``ParseError``.
- ``ParseError`` carries the tag when it was readable, so the session answers
  ``tag BAD …``; otherwise ``* BAD …`` (RFC 9051 §7.1.3).
- Strings are UTF-8 (RFC 9051 §4.3 allows 8-bit in quoted strings for IMAP4rev2 and
  UTF8=ACCEPT clients); invalid UTF-8 is a BAD, never a crash. Mailbox names come back as
  given: modified UTF-7 decoding is the session's job (it depends on UTF8=ACCEPT).
- SEARCH keys become ``mailstore.search`` criteria, except sequence and UID sets, which stay
  ``SeqKey``/``UidKey`` until the session resolves them against its sequence-number map.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from mailstore import search as S
from protocols.imap import commands as C

MAX_DEPTH = 32  # parenthesis / NOT / OR nesting in SEARCH; deeper is an attack, not a client
MAX_APPEND_MESSAGES = 10_000  # messages in one MULTIAPPEND (RFC 3502)

_LITERAL_AT_END = re.compile(rb"~?\{(\d{1,12})(\+?)\}\r\n\Z")
# RFC 9051 §9: atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials
# / resp-specials. ASTRING-CHAR adds "]"; list-char adds "%" and "*".
_ATOM_STOP = frozenset(b'(){ %*"\\]') | frozenset(range(0x20)) | {0x7F}
_ASTRING_STOP = _ATOM_STOP - {ord("]")}
_LIST_STOP = _ASTRING_STOP - {ord("%"), ord("*")}
_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}


class ParseError(Exception):
    """The command is malformed; ``tag`` is set when the tag itself could be read."""

    def __init__(self, message: str, tag: str | None = None) -> None:
        super().__init__(message)
        self.tag = tag


def literal_at_end(line: bytes) -> tuple[int, bool] | None:
    """(size, non-synchronising) when ``line`` ends with a literal header ``{n}``/``{n+}``.

    RFC 9051 §4.3 / RFC 7888 (LITERAL+): the literal's bytes follow the CRLF.
    """
    match = _LITERAL_AT_END.search(line)
    if match is None:
        return None
    return int(match.group(1)), match.group(2) == b"+"


def command_tag_and_name(line: bytes) -> tuple[str | None, str]:
    """Best-effort tag and command name of a first line, for limits and error replies."""
    parts = line.split(b" ", 3)
    tag = parts[0].decode("ascii", "replace") if parts and parts[0] else None
    name = parts[1].rstrip(b"\r\n").upper().decode("ascii", "replace") if len(parts) > 1 else ""
    if name == "UID" and len(parts) > 2:
        name = "UID " + parts[2].rstrip(b"\r\n").upper().decode("ascii", "replace")
    return tag, name


class _Reader:
    """Cursor over one command's bytes with the RFC 9051 §9 token rules."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.tag: str | None = None

    def error(self, message: str) -> ParseError:
        return ParseError(message, self.tag)

    def peek(self) -> int | None:
        return self.data[self.pos] if self.pos < len(self.data) else None

    def at(self, text: bytes) -> bool:
        return self.data.startswith(text, self.pos)

    def expect(self, text: bytes, what: str | None = None) -> None:
        if not self.data.startswith(text, self.pos):
            raise self.error(f"expected {what or repr(text.decode())}")
        self.pos += len(text)

    def sp(self) -> None:
        self.expect(b" ", "a space")

    def maybe_sp(self) -> bool:
        if self.at(b" "):
            self.pos += 1
            return True
        return False

    def end(self) -> None:
        if self.data[self.pos:] != b"\r\n":
            if self.at(b"\r\n") or self.pos >= len(self.data):
                raise self.error("unexpected data after the command")
            raise self.error("unexpected characters; the command ends too late")

    def at_end(self) -> bool:
        return self.data[self.pos:] == b"\r\n"

    def _run(self, stop: frozenset[int]) -> bytes:
        start = self.pos
        data = self.data
        while self.pos < len(data) and data[self.pos] not in stop:
            self.pos += 1
        return data[start:self.pos]

    def atom(self, what: str = "an atom") -> str:
        raw = self._run(_ATOM_STOP)
        if not raw:
            raise self.error(f"expected {what}")
        return _decode(raw, self)

    def flag(self) -> str:
        # RFC 9051 §9: flag = "\Answered" / … / flag-keyword / flag-extension ("\" atom).
        if self.at(b"\\"):
            self.pos += 1
            if self.at(b"*"):
                self.pos += 1
                return "\\*"
            return "\\" + self.atom("a flag")
        return self.atom("a flag")

    def number(self, what: str = "a number") -> int:
        start = self.pos
        while self.pos < len(self.data) and 0x30 <= self.data[self.pos] <= 0x39:
            self.pos += 1
        raw = self.data[start:self.pos]
        if not raw or len(raw) > 20:
            raise self.error(f"expected {what}")
        return int(raw)

    def nz_number(self, what: str = "a non-zero number") -> int:
        value = self.number(what)
        if value == 0 or value > 0xFFFFFFFF:
            raise self.error(f"expected {what} (1 to 4294967295)")
        return value

    def quoted(self) -> str:
        self.expect(b'"')
        out = bytearray()
        data = self.data
        while True:
            if self.pos >= len(data):
                raise self.error("unterminated quoted string")
            ch = data[self.pos]
            self.pos += 1
            if ch == 0x22:
                return _decode(bytes(out), self)
            if ch == 0x5C:
                if self.pos >= len(data) or data[self.pos] not in (0x22, 0x5C):
                    raise self.error('only \\" and \\\\ may be escaped in a quoted string')
                out.append(data[self.pos])
                self.pos += 1
            elif ch in (0x0D, 0x0A, 0x00):
                raise self.error("a quoted string cannot contain CR, LF or NUL")
            else:
                out.append(ch)

    def literal_bytes(self, binary: bool = False) -> bytes:
        if binary and self.at(b"~"):
            self.pos += 1
        self.expect(b"{")
        size = self.number("a literal size")
        if self.at(b"+"):
            self.pos += 1
        self.expect(b"}\r\n", "'}' and CRLF after a literal size")
        if self.pos + size > len(self.data):
            raise self.error("literal is shorter than its announced size")
        value = self.data[self.pos:self.pos + size]
        self.pos += size
        if not binary and b"\x00" in value:
            raise self.error("a literal cannot contain NUL; use BINARY")  # RFC 9051 §4.3
        return value

    def string(self) -> str:
        if self.at(b'"'):
            return self.quoted()
        if self.at(b"{"):
            return _decode(self.literal_bytes(), self)
        raise self.error("expected a string")

    def astring(self, what: str = "a string") -> str:
        if self.at(b'"') or self.at(b"{"):
            return self.string()
        raw = self._run(_ASTRING_STOP)
        if not raw:
            raise self.error(f"expected {what}")
        return _decode(raw, self)

    def nstring(self) -> str | None:
        if self.data[self.pos:self.pos + 3].upper() == b"NIL":
            self.pos += 3
            return None
        return self.string()

    def list_mailbox(self) -> str:
        if self.at(b'"') or self.at(b"{"):
            return self.string()
        raw = self._run(_LIST_STOP)
        if not raw:
            raise self.error("expected a mailbox pattern")
        return _decode(raw, self)

    def mailbox(self) -> str:
        return self.astring("a mailbox name")

    def seq_number(self) -> int | None:
        if self.at(b"*"):
            self.pos += 1
            return None
        return self.nz_number("a message number or *")

    def sequence_set(self) -> C.SequenceSet:
        # RFC 9051 §9 sequence-set; "$" is RFC 5182 SEARCHRES's saved result.
        if self.at(b"$"):
            self.pos += 1
            return C.SequenceSet((), saved=True)
        ranges = []
        while True:
            low = self.seq_number()
            high = low
            if self.at(b":"):
                self.pos += 1
                high = self.seq_number()
            ranges.append((low, high))
            if len(ranges) > 100_000:
                raise self.error("sequence set has too many ranges")
            if not self.at(b","):
                return C.SequenceSet(tuple(ranges))
            self.pos += 1

    def paren_list(self, item) -> list:
        self.expect(b"(")
        out = []
        if self.at(b")"):
            self.pos += 1
            return out
        while True:
            out.append(item())
            if self.at(b")"):
                self.pos += 1
                return out
            self.sp()

    def flag_list(self) -> tuple[str, ...]:
        return tuple(self.paren_list(self.flag))

    def keyword_upper(self) -> str:
        return self.atom().upper()


def _decode(raw: bytes, reader: _Reader) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise reader.error("text is not valid UTF-8") from None


def parse_command(data: bytes) -> C.Command:
    """One complete command (ending in CRLF) to a typed command, or ``ParseError``."""
    r = _Reader(data)
    if not data.endswith(b"\r\n"):
        raise ParseError("a command must end with CRLF")
    tag_raw = r._run(_ASTRING_STOP | {ord("+")})
    if not tag_raw or not r.at(b" "):
        raise ParseError("expected a tag and a command")
    try:
        r.tag = tag_raw.decode("ascii")
    except UnicodeDecodeError:
        raise ParseError("the tag must be ASCII") from None
    r.sp()
    name = r._run(_ATOM_STOP).upper()
    try:
        name_s = name.decode("ascii")
    except UnicodeDecodeError:
        raise r.error("unknown command") from None
    handler = _COMMANDS.get(name_s)
    if name_s == "UID":
        r.sp()
        sub = r._run(_ATOM_STOP).upper().decode("ascii", "replace")
        handler = _UID_COMMANDS.get(sub)
        if handler is None:
            raise r.error(f"unknown UID command {sub!r}")
        command = handler(r, r.tag, sub, True)
    elif handler is None:
        raise r.error(f"unknown command {name_s[:40]!r}" if name_s else "expected a command")
    else:
        command = handler(r, r.tag, name_s)
    r.end()
    return command


# --- command argument parsers --------------------------------------------------------------

def _simple(r: _Reader, tag: str, name: str) -> C.Command:
    return C.Simple(tag, name)


def _login(r: _Reader, tag: str, name: str) -> C.Command:
    r.sp()
    user = r.astring("a user name")
    r.sp()
    return C.Login(tag, name, user, r.astring("a password"))


def _authenticate(r: _Reader, tag: str, name: str) -> C.Command:
    r.sp()
    mechanism = r.atom("a SASL mechanism").upper()
    initial = None
    if r.maybe_sp():  # RFC 4959 SASL-IR: base64 or "=" for an empty response
        raw = r._run(_ATOM_STOP)
        if not raw or not re.fullmatch(rb"[A-Za-z0-9+/]*={0,2}", raw):
            raise r.error("initial response must be base64 or =")
        initial = raw.decode("ascii")
    return C.Authenticate(tag, name, mechanism, initial)


def _id(r: _Reader, tag: str, name: str) -> C.Command:
    r.sp()
    if r.data[r.pos:r.pos + 3].upper() == b"NIL":
        r.pos += 3
        return C.Id(tag, name, None)
    items: list[tuple[str, str | None]] = []
    r.expect(b"(")
    while not r.at(b")"):
        if items:
            r.sp()
        key = r.string()
        r.sp()
        items.append((key, r.nstring()))
        if len(items) > 30:  # RFC 2971 §3.3: at most 30 field-value pairs
            raise r.error("ID takes at most 30 field-value pairs")
    r.pos += 1
    return C.Id(tag, name, tuple(items))


def _compress(r: _Reader, tag: str, name: str) -> C.Command:
    # RFC 4978 §4: command-auth =/ compress; compress = "COMPRESS" SP algorithm
    r.sp()
    return C.Compress(tag, name, r.atom("a compression mechanism").upper())


def _enable(r: _Reader, tag: str, name: str) -> C.Command:
    caps = []
    while r.maybe_sp():
        caps.append(r.atom("a capability").upper())
    if not caps:
        raise r.error("ENABLE needs at least one capability")
    return C.Enable(tag, name, tuple(caps))


def _select(r: _Reader, tag: str, name: str) -> C.Command:
    r.sp()
    mailbox = r.mailbox()
    condstore = False
    qresync = None
    if r.maybe_sp():  # RFC 4466 select-params; RFC 7162 §3.1.8 CONDSTORE, §3.2.5 QRESYNC
        r.expect(b"(")
        while not r.at(b")"):
            if condstore or qresync:
                r.sp()
            param = r.keyword_upper()
            if param == "CONDSTORE":
                condstore = True
            elif param == "QRESYNC" and qresync is None:
                r.sp()
                qresync = _qresync_params(r)
            else:
                raise r.error("unsupported SELECT parameter")
        r.pos += 1
    return C.Select(tag, name, mailbox, condstore, qresync)


def _qresync_params(r: _Reader) -> tuple[int, int, C.SequenceSet | None]:
    # RFC 7162 §7: "(" uidvalidity SP mod-sequence-value [SP known-uids]
    #              [SP seq-match-data] ")"; seq-match-data = "(" known-sequence-set SP
    #              known-uid-set ")". The match data only narrows the server's search; we
    #              keep every tombstone, so it is checked for syntax and not used.
    r.expect(b"(")
    uidvalidity = r.nz_number("a UIDVALIDITY")
    r.sp()
    modseq = r.number("a mod-sequence")
    if modseq == 0 or modseq >= 2 ** 63:
        raise r.error("a mod-sequence is 1 to 2^63-1")
    known = None
    if r.maybe_sp():
        if not r.at(b"("):
            known = r.sequence_set()
            if known.saved:
                raise r.error("known-uids cannot be $")
            r.maybe_sp()
        if r.at(b"("):
            r.pos += 1
            r.sequence_set()
            r.sp()
            r.sequence_set()
            r.expect(b")")
    r.expect(b")")
    return uidvalidity, modseq, known


def _mailbox_only(r: _Reader, tag: str, name: str) -> C.Command:
    r.sp()
    mailbox = r.mailbox()
    special = None
    if name == "CREATE" and r.maybe_sp():
        # RFC 6154 §3: CREATE mailbox (USE (\Drafts))
        r.expect(b"(")
        if r.keyword_upper() != "USE":
            raise r.error("unsupported CREATE parameter")
        r.sp()
        uses = r.paren_list(r.flag)
        r.expect(b")")
        special = uses[0] if uses else None
    return C.MailboxCommand(tag, name, mailbox, special)


def _rename(r: _Reader, tag: str, name: str) -> C.Command:
    r.sp()
    old = r.mailbox()
    r.sp()
    return C.Rename(tag, name, old, r.mailbox())


def _list(r: _Reader, tag: str, name: str) -> C.Command:
    r.sp()
    selection: list[str] = []
    if name == "LIST" and r.at(b"("):  # RFC 5258 list-select-opts
        selection = r.paren_list(r.keyword_upper)
        r.sp()
    reference = r.mailbox()
    r.sp()
    if name == "LIST" and r.at(b"("):  # RFC 5258 multiple patterns
        patterns = r.paren_list(r.list_mailbox)
    else:
        patterns = [r.list_mailbox()]
    returns: list[str] = []
    status_items: list[str] = []
    if name == "LIST" and r.maybe_sp():
        if r.keyword_upper() != "RETURN":
            raise r.error("expected RETURN")
        r.sp()
        r.expect(b"(")
        while not r.at(b")"):
            if returns:
                r.sp()
            option = r.keyword_upper()
            returns.append(option)
            if option == "STATUS":  # RFC 5819 LIST-STATUS
                r.sp()
                status_items = r.paren_list(r.keyword_upper)
        r.pos += 1
    return C.List(tag, name, reference, tuple(patterns), tuple(selection), tuple(returns),
                  tuple(status_items))


def _status(r: _Reader, tag: str, name: str) -> C.Command:
    r.sp()
    mailbox = r.mailbox()
    r.sp()
    items = r.paren_list(r.keyword_upper)
    if not items:
        raise r.error("STATUS needs at least one item")
    return C.Status(tag, name, mailbox, tuple(items))


def _quota(r: _Reader, tag: str, name: str) -> C.Command:
    # RFC 9208 §7: getquota = "GETQUOTA" SP quota-root-name; getquotaroot = … SP mailbox
    r.sp()
    return C.Quota(tag, name, r.astring("a quota root") if name == "GETQUOTA" else r.mailbox())


def _setquota(r: _Reader, tag: str, name: str) -> C.Command:
    # RFC 9208 §7: setquota = "SETQUOTA" SP quota-root-name SP setquota-list;
    # setquota-list = "(" [setquota-resource *(SP setquota-resource)] ")"
    r.sp()
    root = r.astring("a quota root")
    r.sp()
    r.expect(b"(")
    limits: list[tuple[str, int]] = []
    while not r.at(b")"):
        if limits:
            r.sp()
        resource = r.keyword_upper()
        r.sp()
        limits.append((resource, r.number("a quota limit")))
        if len(limits) > 32:
            raise r.error("too many quota resources")
    r.pos += 1
    return C.SetQuota(tag, name, root, tuple(limits))


def _append(r: _Reader, tag: str, name: str) -> C.Command:
    # RFC 3502 §6: append = "APPEND" SP mailbox 1*append-message;
    # append-message = SP [flag-list SP] [date-time SP] append-data
    r.sp()
    mailbox = r.mailbox()
    messages = []
    while r.maybe_sp():
        if messages:
            # Lenient: IMAPClient.multiappend sends two spaces between two literals.
            while r.maybe_sp():
                pass
        messages.append(_append_message(r))
        if len(messages) > MAX_APPEND_MESSAGES:
            raise r.error(f"at most {MAX_APPEND_MESSAGES} messages in one APPEND")
    if not messages:
        raise r.error("APPEND needs the message as a literal")
    return C.Append(tag, name, mailbox, tuple(messages))


def _append_message(r: _Reader) -> C.AppendMessage:
    flags: tuple[str, ...] = ()
    when = None
    if r.at(b"("):
        flags = r.flag_list()
        r.sp()
    if r.at(b'"'):
        when = _date_time(r)
        r.sp()
    if r.data[r.pos:r.pos + 6].upper() == b"UTF8 (":
        # RFC 6855 §4: append-data =/ "UTF8" SP "(" literal8 ")"
        r.pos += 6
        if not (r.at(b"{") or r.at(b"~{")):
            raise r.error("UTF8 needs the message as a literal8 in parentheses")
        message = r.literal_bytes(binary=True)
        r.expect(b")", "')' after the UTF8 literal")
        return C.AppendMessage(flags, when, message, utf8=True)
    if not (r.at(b"{") or r.at(b"~{")):
        raise r.error("APPEND needs the message as a literal")
    return C.AppendMessage(flags, when, r.literal_bytes(binary=True))


def _date_time(r: _Reader) -> datetime:
    # RFC 9051 §9 date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone
    text = r.quoted()
    m = re.fullmatch(r" ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)",
                     text)
    if m is None or m.group(2).lower() not in _MONTHS:
        raise r.error("date-time must look like \"17-May-2024 09:30:00 +0200\"")
    offset = timedelta(hours=int(m.group(8)), minutes=int(m.group(9)))
    try:
        return datetime(int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1)),
                        int(m.group(4)), int(m.group(5)), int(m.group(6)),
                        tzinfo=timezone(-offset if m.group(7) == "-" else offset))
    except ValueError:
        raise r.error("date-time is not a real date") from None


def _search_date(r: _Reader) -> date:
    # RFC 9051 §9: date = date-text / DQUOTE date-text DQUOTE; date-text = d-Mon-yyyy
    text = r.quoted() if r.at(b'"') else r.atom("a date")
    m = re.fullmatch(r"(\d{1,2})-([A-Za-z]{3})-(\d{4})", text)
    if m is None or m.group(2).lower() not in _MONTHS:
        raise r.error("date must look like 17-May-2024")
    try:
        return date(int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1)))
    except ValueError:
        raise r.error("not a real date") from None


_FETCH_SIMPLE = {
    "ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER", "RFC822.SIZE",
    "RFC822.TEXT", "BODYSTRUCTURE", "UID", "BODY", "MODSEQ",
}
# RFC 9051 §6.4.5 macros.
_MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}


def _fetch_item(r: _Reader) -> C.FetchItem:
    start = r.pos
    raw = r._run(_ATOM_STOP | {ord("[")})
    name = raw.upper().decode("ascii", "replace")
    if name in ("BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE") and r.at(b"["):
        r.pos += 1
        binary = name.startswith("BINARY")
        section = _section(r, binary)
        r.expect(b"]")
        partial = None
        if r.at(b"<") and name != "BINARY.SIZE":
            r.pos += 1
            origin = r.number("a partial origin")
            r.expect(b".", "'.' in <origin.length>")
            length = r.nz_number("a partial length")
            r.expect(b">")
            partial = (origin, length)
        peek = name.endswith(".PEEK")
        return C.FetchItem(name.removesuffix(".PEEK"), section, partial, peek)
    if name in _FETCH_SIMPLE:
        return C.FetchItem(name)
    r.pos = start
    raise r.error(f"unknown FETCH item {name[:40]!r}" if name else "expected a FETCH item")


def _section(r: _Reader, binary: bool) -> C.Section:
    # RFC 9051 §9: section-spec = section-msgtext / (section-part ["." section-text])
    part: list[int] = []
    while r.peek() is not None and 0x30 <= r.peek() <= 0x39:
        part.append(r.nz_number("a part number"))
        if len(part) > 64:
            raise r.error("section part number is too deep")
        if r.at(b".") and r.pos + 1 < len(r.data) and 0x30 <= r.data[r.pos + 1] <= 0x39:
            r.pos += 1
            continue
        break
    if binary:
        return C.Section(tuple(part))
    text = ""
    if part and r.at(b"."):
        r.pos += 1
        text = r._run(_ATOM_STOP | {ord("]")}).upper().decode("ascii", "replace")
        if text not in ("HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"):
            raise r.error("unknown section text")
    elif not part and not r.at(b"]"):
        text = r._run(_ATOM_STOP | {ord("]")}).upper().decode("ascii", "replace")
        if text not in ("HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT"):
            raise r.error("unknown section text")
    fields: tuple[str, ...] = ()
    if text.startswith("HEADER.FIELDS"):
        r.sp()
        fields = tuple(f.upper() for f in r.paren_list(lambda: r.astring("a header name")))
        if not fields:
            raise r.error("HEADER.FIELDS needs at least one field name")
    return C.Section(tuple(part), text, fields)


def _fetch(r: _Reader, tag: str, name: str, uid: bool = False) -> C.Command:
    r.sp()
    messages = r.sequence_set()
    r.sp()
    if r.at(b"("):
        items = r.paren_list(lambda: _fetch_item(r))
        if not items:
            raise r.error("FETCH needs at least one item")
    else:
        macro = r.data[r.pos:r.pos + 4].upper().decode("ascii", "replace")
        if macro in _MACROS and (r.pos + 4 >= len(r.data) or r.data[r.pos + 4] in b" \r"):
            r.pos += 4
            items = [C.FetchItem(n) for n in _MACROS[macro]]
        else:
            items = [_fetch_item(r)]
    changed_since = None
    vanished = False
    if r.maybe_sp():  # RFC 7162 §3.1.4 fetch-modifier CHANGEDSINCE; QRESYNC VANISHED
        r.expect(b"(")
        while not r.at(b")"):
            if r.at(b" "):
                r.pos += 1
            mod = r.keyword_upper()
            if mod == "CHANGEDSINCE":
                r.sp()
                changed_since = r.number("a mod-sequence")
            elif mod == "VANISHED" and uid:
                vanished = True
            else:
                raise r.error(f"unknown FETCH modifier {mod[:40]!r}")
        r.pos += 1
    if uid and not any(i.name == "UID" for i in items):
        items.append(C.FetchItem("UID"))  # RFC 9051 §6.4.9: UID FETCH always returns UID
    return C.Fetch(tag, "FETCH", uid, messages, tuple(items), changed_since, vanished)


def _store(r: _Reader, tag: str, name: str, uid: bool = False) -> C.Command:
    r.sp()
    messages = r.sequence_set()
    r.sp()
    unchanged_since = None
    if r.at(b"("):  # RFC 7162 §3.1.3 UNCHANGEDSINCE
        r.pos += 1
        if r.keyword_upper() != "UNCHANGEDSINCE":
            raise r.error("unknown STORE modifier")
        r.sp()
        unchanged_since = r.number("a mod-sequence")
        r.expect(b")")
        r.sp()
    mode = "replace"
    if r.at(b"+") or r.at(b"-"):
        mode = "add" if r.at(b"+") else "remove"
        r.pos += 1
    what = r.keyword_upper()
    if what not in ("FLAGS", "FLAGS.SILENT"):
        raise r.error("STORE takes FLAGS, +FLAGS or -FLAGS (optionally .SILENT)")
    r.sp()
    if r.at(b"("):
        flags = r.flag_list()
    else:
        flags_l = [r.flag()]
        while r.maybe_sp():
            flags_l.append(r.flag())
        flags = tuple(flags_l)
    return C.Store(tag, "STORE", uid, messages, mode, what.endswith(".SILENT"), flags,
                   unchanged_since)


def _copy_move(r: _Reader, tag: str, name: str, uid: bool = False) -> C.Command:
    r.sp()
    messages = r.sequence_set()
    r.sp()
    return C.CopyMove(tag, name, uid, messages, r.mailbox())


def _uid_expunge(r: _Reader, tag: str, name: str, uid: bool = True) -> C.Command:
    r.sp()
    return C.UidExpunge(tag, "UID EXPUNGE", r.sequence_set())


def _search(r: _Reader, tag: str, name: str, uid: bool = False) -> C.Command:
    returns: tuple[str, ...] | None = None
    charset = None
    r.sp()
    if r.data[r.pos:r.pos + 7].upper() == b"RETURN ":  # RFC 4731 ESEARCH
        r.pos += 7
        returns = tuple(r.paren_list(r.keyword_upper))
        for option in returns:
            if option not in ("MIN", "MAX", "ALL", "COUNT", "SAVE"):
                raise r.error(f"unknown SEARCH RETURN option {option[:40]!r}")
        r.sp()
    if r.data[r.pos:r.pos + 8].upper() == b"CHARSET ":
        r.pos += 8
        charset = r.astring("a charset").upper()
        r.sp()
    keys = [_search_key(r, 0)]
    while r.maybe_sp():
        keys.append(_search_key(r, 0))
    criteria = keys[0] if len(keys) == 1 else S.And(tuple(keys))
    return C.Search(tag, "SEARCH", uid, criteria, returns, charset)


# RFC 5256 §3 sort-key, with RFC 5957 §4 (SORT=DISPLAY) DISPLAYFROM and DISPLAYTO.
SORT_KEYS = frozenset({"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM",
                       "DISPLAYTO"})
THREAD_ALGORITHMS = frozenset({"ORDEREDSUBJECT", "REFERENCES"})


def _search_keys(r: _Reader) -> object:
    """1*(SP search-key) after the charset of SORT and THREAD; returns the criterion."""
    keys = []
    while r.maybe_sp():
        keys.append(_search_key(r, 0))
    if not keys:
        raise r.error("expected search criteria")
    return keys[0] if len(keys) == 1 else S.And(tuple(keys))


def _sort(r: _Reader, tag: str, name: str, uid: bool = False) -> C.Command:
    # RFC 5256 §5: sort = ["UID" SP] "SORT" SP sort-criteria SP search-criteria;
    # sort-criterion = ["REVERSE" SP] sort-key; search-criteria = charset 1*(SP search-key)
    r.sp()
    returns: tuple[str, ...] | None = None
    if r.data[r.pos:r.pos + 7].upper() == b"RETURN ":  # RFC 5267 §3.2 ESORT sort-return-opts
        r.pos += 7
        returns = tuple(r.paren_list(r.keyword_upper))
        for option in returns:
            if option not in ("MIN", "MAX", "ALL", "COUNT"):
                raise r.error(f"unknown SORT RETURN option {option[:40]!r}")
        r.sp()
    r.expect(b"(", "'(' before the sort criteria")
    keys: list[tuple[str, bool]] = []
    while True:
        key = r.keyword_upper()
        reverse = key == "REVERSE"
        if reverse:
            r.sp()
            key = r.keyword_upper()
        if key not in SORT_KEYS:
            raise r.error(f"unknown sort key {key[:40]!r}")
        keys.append((key, reverse))
        if r.at(b")"):
            r.pos += 1
            break
        r.sp()
    r.sp()
    charset = r.astring("a charset").upper()
    return C.Sort(tag, "SORT", uid, tuple(keys), charset, _search_keys(r), returns)


def _thread(r: _Reader, tag: str, name: str, uid: bool = False) -> C.Command:
    # RFC 5256 §5: thread = ["UID" SP] "THREAD" SP thread-alg SP search-criteria
    r.sp()
    algorithm = r.keyword_upper()
    if algorithm not in THREAD_ALGORITHMS:
        raise r.error(f"unknown threading algorithm {algorithm[:40]!r}")
    r.sp()
    charset = r.astring("a charset").upper()
    return C.Thread(tag, "THREAD", uid, algorithm, charset, _search_keys(r))


_FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True), "DELETED": ("\\Deleted", True),
    "DRAFT": ("\\Draft", True), "FLAGGED": ("\\Flagged", True), "SEEN": ("\\Seen", True),
    "UNANSWERED": ("\\Answered", False), "UNDELETED": ("\\Deleted", False),
    "UNDRAFT": ("\\Draft", False), "UNFLAGGED": ("\\Flagged", False),
    "UNSEEN": ("\\Seen", False),
}
_TEXT_KEYS = {"BCC": "bcc", "BODY": "body", "CC": "cc", "FROM": "from", "SUBJECT": "subject",
              "TEXT": "text", "TO": "to"}
_DATE_KEYS = {"BEFORE": ("internal", "before"), "ON": ("internal", "on"),
              "SINCE": ("internal", "since"), "SENTBEFORE": ("sent", "before"),
              "SENTON": ("sent", "on"), "SENTSINCE": ("sent", "since")}


def _search_key(r: _Reader, depth: int) -> object:
    """One RFC 9051 §6.4.4 search key (with RFC 3501's RECENT/NEW/OLD, RFC 7162 MODSEQ)."""
    if depth > MAX_DEPTH:
        raise r.error("search keys are nested too deeply")
    if r.at(b"("):
        keys = r.paren_list(lambda: _search_key(r, depth + 1))
        if not keys:
            raise r.error("empty parenthesised search key")
        return keys[0] if len(keys) == 1 else S.And(tuple(keys))
    nxt = r.peek()
    if nxt is not None and (0x30 <= nxt <= 0x39 or nxt in b"*$"):
        return C.SeqKey(r.sequence_set())
    key = r.keyword_upper()
    if key == "ALL":
        return C.ALL
    if key in _FLAG_KEYS:
        flag, present = _FLAG_KEYS[key]
        return S.Flag(flag, present)
    if key == "RECENT":  # RFC 3501 §6.4.4 (gone in IMAP4rev2)
        return C.RecentKey()
    if key == "NEW":
        return S.And((C.RecentKey(), S.Flag("\\Seen", False)))
    if key == "OLD":
        return S.Not(C.RecentKey())
    if key in _TEXT_KEYS:
        r.sp()
        return S.Text(_TEXT_KEYS[key], r.astring("a search string"))
    if key in _DATE_KEYS:
        r.sp()
        which, op = _DATE_KEYS[key]
        return S.Date(which, op, _search_date(r))
    if key in ("LARGER", "SMALLER"):
        r.sp()
        return S.Size(key.lower(), r.number("a size"))
    if key == "HEADER":
        r.sp()
        field = r.astring("a header field name")
        r.sp()
        return S.Header(field, r.astring("a search string"))
    if key in ("KEYWORD", "UNKEYWORD"):
        r.sp()
        return S.Flag(r.flag(), key == "KEYWORD")
    if key == "NOT":
        r.sp()
        return S.Not(_search_key(r, depth + 1))
    if key == "OR":
        r.sp()
        left = _search_key(r, depth + 1)
        r.sp()
        return S.Or(left, _search_key(r, depth + 1))
    if key == "UID":
        r.sp()
        return C.UidKey(r.sequence_set())
    if key == "MODSEQ":
        r.sp()
        if r.at(b'"'):  # RFC 7162 §3.1.5: optional entry-name and entry-type-req
            r.quoted()
            r.sp()
            r.keyword_upper()
            r.sp()
        return S.ModSeq(r.number("a mod-sequence"))
    raise r.error(f"unknown search key {key[:40]!r}")


_COMMANDS = {
    "CAPABILITY": _simple, "NOOP": _simple, "LOGOUT": _simple, "STARTTLS": _simple,
    "CHECK": _simple, "CLOSE": _simple, "UNSELECT": _simple, "EXPUNGE": _simple,
    "IDLE": _simple, "NAMESPACE": _simple,
    "LOGIN": _login, "AUTHENTICATE": _authenticate, "ID": _id, "ENABLE": _enable,
    "COMPRESS": _compress,
    "SELECT": _select, "EXAMINE": _select, "CREATE": _mailbox_only, "DELETE": _mailbox_only,
    "SUBSCRIBE": _mailbox_only, "UNSUBSCRIBE": _mailbox_only, "RENAME": _rename,
    "LIST": _list, "LSUB": _list, "STATUS": _status, "APPEND": _append,
    "FETCH": _fetch, "STORE": _store, "SEARCH": _search, "COPY": _copy_move,
    "MOVE": _copy_move, "SORT": _sort, "THREAD": _thread, "GETQUOTA": _quota,
    "GETQUOTAROOT": _quota, "SETQUOTA": _setquota,
}
_UID_COMMANDS = {"FETCH": _fetch, "STORE": _store, "SEARCH": _search, "COPY": _copy_move,
                 "MOVE": _copy_move, "EXPUNGE": _uid_expunge, "SORT": _sort,
                 "THREAD": _thread}
