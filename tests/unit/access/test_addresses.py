"""realtime.access.addresses: X-Forwarded-For believed only from trusted proxies, and then its
rightmost entry that is not one of them."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from realtime.access.addresses import client_address, trusted_proxies_parse

PROXIES = trusted_proxies_parse(["10.0.0.0/8", "fd00::/8"])


def scope(peer: str | None, *forwarded: str) -> dict:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return {"client": (peer, 50000) if peer else None, "headers": headers}


@pytest.mark.parametrize(
    ("peer", "forwarded", "address"),
    [
        ("203.0.113.7", [], "203.0.113.7"),  # no proxy: the peer
        ("203.0.113.7", ["198.51.100.1"], "203.0.113.7"),  # a header from the internet: ignored
        ("10.1.2.3", ["198.51.100.1"], "198.51.100.1"),  # from the ingress controller
        # What the client wrote comes first; the proxy appends the address it saw.
        ("10.1.2.3", ["1.2.3.4, 198.51.100.1"], "198.51.100.1"),
        ("10.1.2.3", ["1.2.3.4", "198.51.100.1, 10.9.9.9"], "198.51.100.1"),  # two proxies
        ("10.1.2.3", [], "10.1.2.3"),  # a proxy that forwarded nothing: itself
        ("10.1.2.3", ["not-an-address"], "10.1.2.3"),
        ("fd00::1", ["2001:db8::5"], "2001:db8::5"),
        (None, ["198.51.100.1"], None),
    ],
)
def test_the_client_address(peer, forwarded, address) -> None:
    assert client_address(scope(peer, *forwarded), PROXIES) == address


def test_without_trusted_proxies_the_header_is_never_read() -> None:
    assert client_address(scope("10.1.2.3", "198.51.100.1"), ()) == "10.1.2.3"


def test_a_wrong_network_says_which() -> None:
    with pytest.raises(ImproperlyConfigured, match="REALTIME_TRUSTED_PROXIES"):
        trusted_proxies_parse(["10.0.0.0/33"])
