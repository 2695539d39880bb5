"""``tidings.toml``: the written template parses, and every bad value is one clear line."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from protocols.smtp.limits import in_networks
from tidings.config import ConfigError, config_template, parse


def config(tmp_path: Path, **smtp: object) -> dict:
    raw = tomllib.loads(config_template("mx.example.com"))
    raw["smtp"].update(smtp)
    return raw


def test_the_template_gives_safe_smtp_defaults(tmp_path: Path) -> None:
    cfg = parse(config(tmp_path), tmp_path)
    smtp = cfg.smtp
    assert smtp is not None and smtp.hostname == "mx.example.com"
    assert smtp.max_message_size == 25 * 1024 * 1024 and smtp.max_recipients == 100
    assert smtp.relay_networks == ()  # nobody relays without AUTH, loopback included
    assert smtp.listeners["submission"].auth_required
    assert smtp.listeners["submissions"].implicit_tls
    assert cfg.enabled["smtp"] and cfg.enabled["submission"]


def test_networks_and_sizes_are_understood(tmp_path: Path) -> None:
    raw = config(tmp_path, max_message_size="10M", relay_networks=["192.168.1.0/24"],
                 allow={"submission": ["10.0.0.0/8"]}, deny={"smtp": ["203.0.113.7"]})
    smtp = parse(raw, tmp_path).smtp
    assert smtp.max_message_size == 10 * 1024 * 1024
    assert in_networks("192.168.1.20", smtp.relay_networks)
    assert in_networks("10.1.2.3", smtp.listeners["submission"].allow)
    assert in_networks("203.0.113.7", smtp.listeners["smtp"].deny)


@pytest.mark.parametrize("setting, message", [
    ({"max_message_size": "lots"}, "[smtp] max_message_size: 'lots' is not a size"),
    ({"max_recipients": -1}, "[smtp] max_recipients must be a whole number"),
    ({"relay_networks": ["192.168.1.300/24"]}, "[smtp] relay_networks: '192.168.1.300/24' "
                                               "is not an IP network"),
    ({"relay_networks": "192.168.1.0/24"}, "[smtp] relay_networks must be a list"),
    ({"mailbox_full_code": 550}, "[smtp] mailbox_full_code must be 452 or 552"),
    ({"allow": {"pop3": ["10.0.0.0/8"]}}, "pop3 is not an SMTP service"),
    ({"check_sender_auth": "yes"}, "[smtp] check_sender_auth must be true or false"),
])
def test_bad_smtp_settings_are_one_clear_line(tmp_path: Path, setting: dict,
                                              message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse(config(tmp_path, **setting), tmp_path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_login_lockout_is_configured_for_every_front_door(tmp_path: Path) -> None:
    raw = config(tmp_path)
    assert (parse(raw, tmp_path).login_max_failures,
            parse(raw, tmp_path).login_lockout_seconds) == (5, 900)
    raw["logins"] = {"max_failures": 3, "lockout_seconds": 60}
    cfg = parse(raw, tmp_path)
    assert (cfg.login_max_failures, cfg.login_lockout_seconds) == (3, 60)
    raw["logins"] = {"max_failures": "three"}
    with pytest.raises(ConfigError, match=r"\[logins\] max_failures must be a whole number"):
        parse(raw, tmp_path)


def test_the_message_trace_is_kept_90_days_unless_configured(tmp_path: Path) -> None:
    raw = config(tmp_path)
    assert parse(raw, tmp_path).trace_keep_days == 90
    raw["trace"] = {"keep_days": 0}
    assert parse(raw, tmp_path).trace_keep_days == 0  # for ever
    for bad in (-1, "a month", True):
        raw["trace"] = {"keep_days": bad}
        with pytest.raises(ConfigError, match=r"\[trace\] keep_days must be a whole number"):
            parse(raw, tmp_path)
