"""``source_ip: [10.0.0.0/8, 2001:db8::/32, 192.0.2.7]``: the client's address.

The address is the TCP peer, or the rightmost ``X-Forwarded-For`` address that is not a
trusted proxy when the peer is one (docs/http.md). Results are remembered per address.
"""

from __future__ import annotations

import ipaddress

from portcullis.policy.criterion import Context, Criterion, PolicyError, PolicyProblem, string_list
from portcullis.policy.facts import Facts

NAME = "source_ip"
_REMEMBERED = 4096

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def compile(value: object, ctx: Context, path: str) -> Criterion:
    entries = string_list(value, path, what="address or CIDR range")
    networks: list[Network] = []
    problems = []
    for i, entry in enumerate(entries):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            problems.append(PolicyProblem(f"{path}[{i}]", f"{entry!r} is not an address or CIDR"))
    if problems:
        raise PolicyError(problems)
    frozen = tuple(networks)
    seen: dict[str, bool] = {}

    def test(facts: Facts) -> bool:
        address = facts.source_ip
        known = seen.get(address)
        if known is None:
            known = _inside(address, frozen)
            if len(seen) >= _REMEMBERED:
                seen.clear()
            seen[address] = known
        return known

    return Criterion(NAME, test, "from " + ", ".join(entries))


def _inside(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in networks)
