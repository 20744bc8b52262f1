"""The client's address, for REALTIME_MAX_CONNECTIONS_PER_ADDRESS: the TCP peer, or, when the
peer is a proxy of REALTIME_TRUSTED_PROXIES (the ingress controller), the address it forwarded
for: the rightmost X-Forwarded-For entry that is not itself a trusted proxy. Entries further
left are whatever the client wrote, so they are never taken."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ImproperlyConfigured

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_proxies_parse(values: Iterable[str]) -> tuple[Network, ...]:
    """REALTIME_TRUSTED_PROXIES: addresses or networks (10.0.0.0/8, fd00::/8)."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as error:
            raise ImproperlyConfigured(f"REALTIME_TRUSTED_PROXIES: {error}") from None
    return tuple(networks)


def _trusted(address: str, proxies: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_address(scope: dict[str, Any], proxies: tuple[Network, ...]) -> str | None:
    client = scope.get("client")
    peer = client[0] if client else None
    if peer is None or not _trusted(peer, proxies):
        return peer
    hops = [
        hop.strip()
        for name, value in scope.get("headers", [])
        if name == b"x-forwarded-for"
        for hop in value.decode("latin1").split(",")
    ]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # not an address: nothing to go by but the proxy's
    return peer
