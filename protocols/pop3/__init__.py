"""POP3 front door (RFC 1939, CAPA and response codes RFC 2449, STLS RFC 2595, SASL PLAIN
RFC 5034), one concept per module.

    parser     bytes of one command -> typed command; responses; dot-stuffing; TOP (pure)
    maildrop   the session's numbered INBOX snapshot, DELE marks, UIDLs
    session    one connection: framing, the state machine, every command
    server     listening sockets, TLS, session lifetimes, the one-session-per-maildrop lock
"""
