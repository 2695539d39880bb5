"""Sender authentication of incoming mail: SPF, DKIM, DMARC, DNSBL, Authentication-Results."""
