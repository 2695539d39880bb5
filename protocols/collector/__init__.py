"""The ISP collector: downloads mail from POP3/IMAP mailboxes and delivers it locally."""
