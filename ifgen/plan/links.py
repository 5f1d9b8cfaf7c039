"""The ifcfg keys of bonds, slaves, VLANs and IPv6, and the route6/rule6 lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ifgen.model import Bond, Host, Interface, Route6, Rule6, device_sort_key
from ifgen.numbering import free_numbers

if TYPE_CHECKING:
    from ifgen.plan import Draft

# Without link monitoring a bond never notices a dead slave; 100 ms is the usual choice.
DEFAULT_MIIMON = 100
# IPv6 rules live in their own list in the kernel, so they get their own automatic range.
AUTO_PRIORITY6_START = 1000

Pairs = list[tuple[str, str]]


def type_keys(iface: Interface) -> Pairs:
    """What kind of device this is: the keys right after DEVICE."""
    if iface.bond is not None:
        return [("TYPE", "Bond"), ("BONDING_MASTER", "yes")]
    if "." in iface.device:
        # No TYPE: ifup creates the VLAN from VLAN=yes and the dotted name, then runs ifup-eth.
        return [("VLAN", "yes"), ("PHYSDEV", iface.device.rsplit(".", 1)[0])]
    return [("TYPE", "Ethernet")]


def link_keys(iface: Interface) -> Pairs:
    """Bonding options, slave markers and IPv6 keys: the end of `ifcfg-DEV`."""
    keys: Pairs = []
    if iface.bond is not None:
        keys.append(("BONDING_OPTS", bonding_opts(iface.bond)))
    if iface.master is not None:
        keys += [("MASTER", iface.master), ("SLAVE", "yes")]
    return keys + ipv6_keys(iface)


def bonding_opts(bond: Bond) -> str:
    """`mode=… miimon=… primary=…`, mode by name, in the order the kernel applies them."""
    words = [
        f"mode={bond.mode}",
        f"miimon={DEFAULT_MIIMON if bond.miimon is None else bond.miimon}",
    ]
    for name, value in (
        ("updelay", bond.updelay),
        ("downdelay", bond.downdelay),
        ("primary", bond.primary),
    ):
        if value is not None:
            words.append(f"{name}={value}")
    return " ".join(words)


def ipv6_keys(iface: Interface) -> Pairs:
    """IPV6INIT and friends; nothing at all for an IPv4-only device."""
    if iface.ipv6_address is None:
        return []
    # A static address and router advertisements would give the device a second, SLAAC one.
    keys = [
        ("IPV6INIT", "yes"),
        ("IPV6_AUTOCONF", "no"),
        ("IPV6ADDR", str(iface.ipv6_address)),
    ]
    if iface.ipv6_secondaries:
        keys.append(("IPV6ADDR_SECONDARIES", " ".join(str(a) for a in iface.ipv6_secondaries)))
    gateway = iface.ipv6_gateway
    if gateway is not None:
        # A link-local gateway means nothing without the device it is reached through.
        shown = f"{gateway}%{iface.device}" if gateway.is_link_local else str(gateway)
        keys.append(("IPV6_DEFAULTGW", shown))
    return keys


def plan_links(draft: Draft) -> None:
    """Turn IPv6 on for the whole host when any device has an IPv6 address."""
    if any(i.ipv6_address is not None for i in draft.host.interfaces):
        draft.network["NETWORKING_IPV6"] = "yes"


def routes6(host: Host) -> dict[str, tuple[Route6, ...]]:
    """`route6-DEV` contents by device."""
    return {i.device: i.routes6 for i in _in_order(host) if i.routes6}


def rules6(host: Host) -> dict[str, tuple[Rule6, ...]]:
    """`rule6-DEV` contents by device, every rule with an explicit priority."""
    taken = {r.priority for i in host.interfaces for r in i.rules6 if r.priority is not None}
    numbers = free_numbers(taken, AUTO_PRIORITY6_START)
    out: dict[str, tuple[Rule6, ...]] = {}
    for iface in _in_order(host):
        fixed = []
        for rule in iface.rules6:
            if rule.priority is None:
                rule = rule._replace(priority=next(numbers))
            fixed.append(rule)
        if fixed:
            out[iface.device] = tuple(fixed)
    return out


def _in_order(host: Host) -> list[Interface]:
    return sorted(host.interfaces, key=lambda i: device_sort_key(i.device))
