"""The SSRF guard's address rule: which addresses a webhook may reach."""

import ipaddress

import pytest

from services.webhooks.guard import address_allowed, networks

LOOPBACK = networks(["127.0.0.1/32"])


@pytest.mark.parametrize("address", [
    "10.1.2.3", "172.16.0.1", "192.168.1.1", "127.0.0.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1",  # noqa: S104
    "fc00::1", "fd00:ec2::254", "ff02::1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
    "2001:db8::1"])
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not address_allowed(ipaddress.ip_address(address), ())


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_allowed(ipaddress.ip_address(address), ())


def test_the_allow_list_opens_exactly_its_networks() -> None:
    assert address_allowed(ipaddress.ip_address("127.0.0.1"), LOOPBACK)
    assert address_allowed(ipaddress.ip_address("::ffff:127.0.0.1"), LOOPBACK)
    assert not address_allowed(ipaddress.ip_address("127.0.0.2"), LOOPBACK)
    assert not address_allowed(ipaddress.ip_address("::1"), LOOPBACK)
