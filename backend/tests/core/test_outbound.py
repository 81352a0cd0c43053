"""The SSRF guard shared by everything that connects to an address a company chose."""

from __future__ import annotations

import pytest

from core.config import settings
from core.outbound import (
    TargetRefused,
    TargetUnresolvable,
    check_literal_target,
    checked_address,
    pinned_url,
)


class TestProductionRules:
    @pytest.fixture(autouse=True)
    def _production(self, monkeypatch):
        monkeypatch.setattr(settings, "allow_private_network_targets", False)

    @pytest.mark.parametrize(
        "host",
        ["127.0.0.1", "[::1]", "::ffff:10.0.0.1", "169.254.169.254", "localhost", "a.localhost."],
    )
    def test_literals_and_local_names_are_refused_without_dns(self, host):
        with pytest.raises(TargetRefused):
            check_literal_target(host)

    async def test_a_name_is_checked_after_resolving(self):
        with pytest.raises(TargetRefused):
            await checked_address("localhost", 80)

    def test_public_literals_pass(self):
        check_literal_target("93.184.216.34")


async def test_private_targets_allowed_resolves_and_returns_the_first_address():
    assert await checked_address("127.0.0.1", 80) == "127.0.0.1"


async def test_an_unknown_name_is_unresolvable():
    with pytest.raises(TargetUnresolvable):
        await checked_address("no-such-host.invalid", 443)


def test_pinned_url_keeps_port_path_and_query_and_drops_credentials():
    assert pinned_url("https://u:p@hooks.example.com:8443/a?b=1#f", "2001:db8::1") == (
        "https://[2001:db8::1]:8443/a?b=1",
        "hooks.example.com",
    )
