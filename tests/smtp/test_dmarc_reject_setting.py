"""``[smtp] dmarc_reject = "junk"``: a message whose sender domain asks for rejection goes
to the recipient's Junk folder instead of being refused (set in the admin's Receiving page).
"""

from __future__ import annotations

import pytest

from mailstore.store import Store
from protocols.smtp.checks import sender_check
from protocols.smtp.settings import SmtpSettings
from tests.dnszone import Zone
from tests.smtp.conftest import HOSTNAME, inbox
from tests.smtp.test_sender_auth import LAN, deliver, mail

pytestmark = pytest.mark.skipif(LAN is None, reason="this machine has no non-loopback address")


async def test_dmarc_reject_goes_to_junk_when_the_admin_chose_so(
        start_smtp, resolver, zone: Zone, office: Store) -> None:
    settings = SmtpSettings(HOSTNAME)
    smtp = await start_smtp(host=LAN, sender_check=sender_check(settings, resolver),
                            dmarc_reject="junk")
    zone.txt("bank.example", "v=spf1 -all")
    zone.txt("_dmarc.bank.example", "v=DMARC1; p=reject")
    assert (await deliver(smtp, "boss@bank.example", mail("boss@bank.example"))) \
        .startswith("250")
    assert await inbox(office, "ann@example.com") == []
    [junk] = await inbox(office, "ann@example.com", "Junk")
    assert b"dmarc=fail" in junk
    # Switched back (live, as the admin's applier does): refused again.
    smtp.server.reconfigure(SmtpSettings(HOSTNAME), smtp.server.sender_check)
    assert (await deliver(smtp, "boss@bank.example", mail("boss@bank.example"))) \
        .startswith("550 5.7.1 DMARC policy of bank.example rejects")
