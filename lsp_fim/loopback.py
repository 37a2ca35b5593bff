"""Whether an address stays on this machine: the TCP listener refuses to listen elsewhere
unasked, and an API key is never sent in clear text elsewhere."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 (also bracketed, and as ::ffff:127.x.x.x) and ``localhost``, which
    resolvers keep on this machine (RFC 6761); other names could resolve anywhere."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
