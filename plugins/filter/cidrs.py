"""Filter colostack.infra.invalid_cidrs: the entries of an allowlist that are not a usable network.

Parsed with Python's ipaddress, so every spelling of an address counts (0.0.0.0/0, ::/0, 0:0::0/0,
::ffff:0.0.0.0/96 all mean the whole address space). Used by the roles' asserts:
`that: vllm_metrics_allowed_cidrs | colostack.infra.invalid_cidrs | length == 0`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

DOCUMENTATION = r"""
name: invalid_cidrs
short_description: The entries of a CIDR allowlist that do not parse or that allow any address
description:
  - Returns each entry that is not a string, does not parse as an IPv4 or IPv6 network (host bits set
    count as a typo), or has a prefix length of 0 (any address), unless allow_any is true.
options:
  _input:
    description: The allowlist.
    type: list
    elements: raw
    required: true
  allow_any:
    description: Accept prefix length 0 (the whole address space).
    type: bool
    default: false
author: colostack
"""


def _problem(entry: Any, allow_any: bool) -> bool:
    if not isinstance(entry, str) or entry != entry.strip() or not entry:
        return True
    try:
        network = ipaddress.ip_network(entry, strict=True)
    except ValueError:
        return True
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen <= 96 and (
        network.supernet_of(ipaddress.IPv6Network("::ffff:0:0/96"))
    ):
        return not allow_any  # an IPv4-mapped range that covers all of IPv4
    return network.prefixlen == 0 and not allow_any


def invalid_cidrs(entries: Any, allow_any: bool = False) -> list[Any]:
    if not isinstance(entries, list):
        return [entries]
    return [entry for entry in entries if _problem(entry, allow_any)]


class FilterModule:
    def filters(self) -> dict[str, Callable[..., list[Any]]]:
        return {"invalid_cidrs": invalid_cidrs}
