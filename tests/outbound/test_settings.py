"""What decides the way out: [delivery] settings, MX ordering, retry schedule."""

from __future__ import annotations

import random
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.delivery.mx import domain_literal, order_mx
from protocols.delivery.settings import DeliverySettings, parse_delivery, parse_duration
from tidings.config import ConfigError, config_template, parse


def delivery(text: str) -> DeliverySettings:
    return parse_delivery(tomllib.loads(text).get("delivery", {}), "mail.example.com")


def test_the_written_config_sends_directly_with_the_rfc_timeouts() -> None:
    config = parse(tomllib.loads(config_template("mail.example.com")), Path("/tmp"))
    settings = config.delivery
    assert settings.default_via == ("direct",) and settings.mx_port == 25
    assert settings.retry_intervals == (300, 900, 1800, 3600, 7200, 14400)
    assert settings.expire_after == 5 * 86400 and settings.delay_notice_after == 4 * 3600
    assert settings.timeouts["data_end"] == 600


def test_retries_back_off_and_then_repeat_the_last_interval() -> None:
    settings = DeliverySettings()
    assert [settings.retry_delay(n) for n in range(1, 10)] == [
        300, 900, 1800, 3600, 7200, 14400, 14400, 14400, 14400]


def test_smart_hosts_and_routes_by_sender_domain_or_address() -> None:
    settings = delivery("""
        [delivery]
        via = ["isp", "backup"]
        [[delivery.smarthost]]
        name = "isp"
        host = "smtp.isp.example"
        username = "office"
        password = "pw"
        [[delivery.smarthost]]
        name = "backup"
        host = "relay.example"
        port = 465
        tls = "implicit"
        [[delivery.route]]
        senders = ["example.org", "*.example.net", "boss@example.com"]
        via = "direct"
    """)
    assert settings.smarthosts["isp"].port == 587 and settings.smarthosts["isp"].tls == "starttls"
    assert settings.via("ann@example.com") == ("isp", "backup")
    assert settings.via("Ann@Example.ORG") == ("direct",)
    assert settings.via("x@sales.example.net") == ("direct",)
    assert settings.via("boss@example.com") == ("direct",)


@pytest.mark.parametrize(("text", "error"), [
    ('[delivery]\nvia = ["nowhere"]', "no [[delivery.smarthost]] is named 'nowhere'"),
    ('[delivery]\nretry = ["5 minutes"]', "[delivery] retry: '5 minutes' is not a duration"),
    ('[delivery]\nmx_port = 0', "[delivery] mx_port must be a whole number, 1 or more"),
    ('[[delivery.smarthost]]\nname = "isp"\nhost = "h"\ntls = "ssl"',
     "tls must be one of starttls, implicit, none"),
    ('[[delivery.smarthost]]\nname = "isp"', "needs a host"),
    ('[[delivery.route]]\nsenders = []\nvia = "direct"', "senders must be a list"),
    ('[delivery.timeouts]\nbanner = "5m"', "[delivery.timeouts] banner is unknown"),
])
def test_a_bad_delivery_setting_is_one_line_naming_the_key(text: str, error: str) -> None:
    raw = tomllib.loads(config_template("mail.example.com"))
    raw["delivery"] = tomllib.loads(text)["delivery"]
    with pytest.raises(ConfigError) as caught:
        parse(raw, Path("/tmp"), "tidings.toml")
    assert error in str(caught.value)
    assert "\n" not in str(caught.value)


def test_durations() -> None:
    assert [parse_duration(v) for v in (90, "90s", "5m", "4h", "5d", "7")] == [
        90, 90, 300, 14400, 432000, 7]


def test_mx_records_are_ordered_by_preference() -> None:
    records = ["20 backup.example.org.", "10 mx1.example.org", "10 mx2.example.org"]
    hosts = order_mx(records, random.Random(1))
    assert set(hosts[:2]) == {"mx1.example.org", "mx2.example.org"}
    assert hosts[2] == "backup.example.org"


def test_a_single_mx_of_dot_is_a_null_mx() -> None:
    assert order_mx(["0 ."]) is None
    assert order_mx(["0 ", "10 mx.example.org"]) == ["mx.example.org"]


@given(st.lists(st.text(max_size=30), max_size=5))
def test_mx_ordering_never_raises(records: list[str]) -> None:
    result = order_mx(records)
    assert result is None or isinstance(result, list)


def test_domain_literals() -> None:
    assert domain_literal("[192.0.2.1]") == "192.0.2.1"
    assert domain_literal("[IPv6:2001:db8::1]") == "2001:db8::1"
    assert domain_literal("[not an address]") is None
    assert domain_literal("example.org") is None
