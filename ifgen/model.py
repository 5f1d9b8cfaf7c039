"""The validated inventory: immutable records for hosts, interfaces, routes, rules, tables.

Records are `typing.NamedTuple`s rather than frozen dataclasses: a dataclass costs about
four times as much to create at import, and every run of the command line pays for it.
"""

from __future__ import annotations

import re
from ipaddress import (
    IPv4Address,
    IPv4Interface,
    IPv4Network,
    IPv6Address,
    IPv6Interface,
    IPv6Network,
)
from typing import Literal, NamedTuple

Bootproto = Literal["static", "dhcp", "none"]


def device_sort_key(device: str) -> tuple[object, ...]:
    """Natural order (eth2 before eth10), the order the network service brings devices up."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", device))


class Alias(NamedTuple):
    """An extra address: `ifcfg-DEV:N` (or `ifcfg-lo:N` on the loopback)."""

    address: IPv4Interface
    number: int | None = None
    broadcast: IPv4Address | None = None
    arpcheck: bool | None = None
    arpupdate: bool | None = None


class NextHop(NamedTuple):
    """One next hop of a multipath route."""

    via: IPv4Address
    dev: str
    weight: int = 1


class Route(NamedTuple):
    """One `ip route add` line; `to` None means the default route."""

    to: IPv4Network | None
    dev: str
    via: IPv4Address | None = None
    src: IPv4Address | None = None
    metric: int | None = None
    table: str | None = None
    scope: str | None = None
    proto: str | None = None
    nexthops: tuple[NextHop, ...] = ()


class Rule(NamedTuple):
    """One `ip rule add` line, written to `rule-DEV`."""

    dev: str
    table: str
    from_: IPv4Network | None = None
    to: IPv4Network | None = None
    iif: str | None = None
    fwmark: str | None = None
    priority: int | None = None


class Bond(NamedTuple):
    """A bonding master's options (expanded into BONDING_OPTS by plan/links.py)."""

    slaves: tuple[str, ...]
    mode: str
    miimon: int | None = None
    primary: str | None = None
    updelay: int | None = None
    downdelay: int | None = None


class Route6(NamedTuple):
    """One `ip -6 route add` line, written to `route6-DEV`; `to` None means the default."""

    to: IPv6Network | None
    dev: str
    via: IPv6Address | None = None
    src: IPv6Address | None = None
    metric: int | None = None
    table: str | None = None
    proto: str | None = None
    scope: str | None = None
    # Always empty: multipath IPv6 is not offered; the field lets route lines share a filter.
    nexthops: tuple[NextHop, ...] = ()


class Rule6(NamedTuple):
    """One `ip -6 rule add` line, written to `rule6-DEV`."""

    dev: str
    table: str
    from_: IPv6Network | None = None
    to: IPv6Network | None = None
    iif: str | None = None
    fwmark: str | None = None
    priority: int | None = None


class Policy(NamedTuple):
    """Traffic from `source` uses `table` via `gateway` (expanded by plan/policy.py)."""

    dev: str
    source: IPv4Address
    table: str
    gateway: IPv4Address
    priority: int | None = None
    connected_src: bool = True


class Table(NamedTuple):
    """A named routing table for `/etc/iproute2/rt_tables`."""

    name: str
    id: int


class Sysctl(NamedTuple):
    """A kernel parameter for `/etc/sysctl.d`; `reason` says who asked for it."""

    key: str
    value: str
    reason: str = "inventory"


RoleName = Literal["lvs-dr-director", "lvs-dr-realserver", "lvs-nat-realserver"]


class Vip(NamedTuple):
    """One virtual address of an LVS service; `number` (key `index`) pins its `DEV:N`/`lo:N`."""

    address: IPv4Address
    number: int | None = None


class LvsRole(NamedTuple):
    """The part one host plays in one LVS service (expanded by plan/lvs.py)."""

    role: RoleName
    service: str
    interface: str
    vips: tuple[Vip, ...]
    # NAT real servers only: the director's internal address, the table replies use and
    # the priority of the rule that sends them there.
    gateway: IPv4Address | None = None
    table: str | None = None
    priority: int | None = None


class Interface(NamedTuple):
    """A physical device and everything declared on it."""

    device: str
    bootproto: Bootproto = "none"
    address: IPv4Interface | None = None
    hwaddr: str | None = None
    mtu: int | None = None
    onboot: bool = True
    nm_controlled: bool = False
    arpcheck: bool | None = None
    arpupdate: bool | None = None
    defroute: bool | None = None
    gateway: IPv4Address | None = None
    aliases: tuple[Alias, ...] = ()
    routes: tuple[Route, ...] = ()
    rules: tuple[Rule, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()
    # Preferred source address (ifgen/plan/source.py); metrics None = the plan defaults.
    prefer_source: IPv4Address | None = None
    source_metric: int | None = None
    fallback_metric: int | None = None
    # Per-source policy routing and loose reverse-path filtering (ifgen/plan/policy.py).
    policies: tuple[Policy, ...] = ()
    rp_filter: int | None = None
    # Bonds, slaves and IPv6 (ifgen/links.py, ifgen/plan/links.py); a VLAN is a dotted name.
    bond: Bond | None = None
    master: str | None = None
    ipv6_address: IPv6Interface | None = None
    ipv6_secondaries: tuple[IPv6Interface, ...] = ()
    ipv6_gateway: IPv6Address | None = None
    routes6: tuple[Route6, ...] = ()
    rules6: tuple[Rule6, ...] = ()

    def networks(self) -> tuple[IPv4Network, ...]:
        """The connected subnets: primary first, then each alias's."""
        found = [self.address.network] if self.address else []
        found += [a.address.network for a in self.aliases if a.address.network not in found]
        return tuple(found)

    def addresses(self) -> tuple[IPv4Interface, ...]:
        """Every address on the device: primary first, then aliases."""
        primary = (self.address,) if self.address else ()
        return primary + tuple(a.address for a in self.aliases)


class Expect(NamedTuple):
    """A declared lookup answer: `ip route get TO [from FROM]`, optionally with an alias down.

    `via`, `dev` and `src` hold one value (every next hop must have it) or several (the set of
    next hops of a multipath route); `origin` says where the entry was written.
    """

    to: IPv4Address
    from_: IPv4Address | None = None
    without: IPv4Address | None = None
    src: tuple[IPv4Address, ...] = ()
    via: tuple[IPv4Address, ...] = ()
    dev: tuple[str, ...] = ()
    table: str | None = None
    origin: str = ""


class Host(NamedTuple):
    """One machine: its interfaces, loopback VIPs, tables, sysctls and network settings."""

    name: str
    file: str
    interfaces: tuple[Interface, ...] = ()
    loopback: tuple[Alias, ...] = ()
    gateway: IPv4Address | None = None
    tables: tuple[Table, ...] = ()
    sysctls: tuple[Sysctl, ...] = ()
    hostname: str | None = None
    nozeroconf: bool | None = None
    roles: tuple[LvsRole, ...] = ()
    expect: tuple[Expect, ...] = ()

    def interface(self, device: str) -> Interface | None:
        """The interface with that device name, if declared."""
        for iface in self.interfaces:
            if iface.device == device:
                return iface
        return None

    def addresses(self) -> tuple[IPv4Address, ...]:
        """Every IPv4 address the host will hold, loopback VIPs included."""
        found = [a.ip for iface in self.interfaces for a in iface.addresses()]
        return tuple(found + [a.address.ip for a in self.loopback])
