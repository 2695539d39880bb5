"""IMAP4rev2/IMAP4rev1 front door (RFC 9051, RFC 3501), one concept per module.

    parser     bytes of one command -> typed command (pure, fuzzed)
    commands   the typed commands
    responses  response syntax: strings, literals, flag lists, dates, modified UTF-7
    fetch      FETCH data items from the store's rows and cached parse
    mailbox    the selected mailbox: per-session sequence numbers and pending updates
    session    one connection: framing, state machine, every command
    server     listening sockets, TLS, session lifetimes
"""
