"""Checks across a whole host: on-link gateways, duplicates, tables, priorities."""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import TYPE_CHECKING

from ifgen.model import Alias, Host, Interface, Route

if TYPE_CHECKING:
    from ifgen.inventory import Key
    from ifgen.validate import Reader


def check_host(r: Reader, host: Host) -> None:
    """Report every inconsistency between the parts of one host."""
    _check_gateways(r, host)
    _check_duplicates(r, host)
    _check_alias_indices(r, host)
    _check_loopback(r, host)
    for iface in host.interfaces:
        for index, route in enumerate(iface.routes):
            _check_route(r, host, ("interfaces", iface.device, "routes", index), route)
    _check_rules(r, host)
    _check_roles(r, host)
    _check_policy_routing(r, host)
    _check_prefer_source(r, host)
    _check_links(r, host)


def _check_links(r: Reader, host: Host) -> None:
    from ifgen.links import check_links

    check_links(r, host)


def _check_prefer_source(r: Reader, host: Host) -> None:
    from ifgen.plan.source import check_prefer_source

    check_prefer_source(r, host)


def _check_policy_routing(r: Reader, host: Host) -> None:
    from ifgen.plan.policy import check_policy_routing

    check_policy_routing(r, host)


def on_link(host: Host, device: str, address: IPv4Address) -> bool:
    """True when the address lies in a connected subnet of that device."""
    iface = host.interface(device)
    return iface is not None and any(address in net for net in iface.networks())


def gateway_device(host: Host) -> Interface | None:
    """The interface whose primary subnet holds the host-level gateway."""
    if host.gateway is None:
        return None
    for iface in host.interfaces:
        if iface.address is not None and host.gateway in iface.address.network:
            return iface
    return None


def _describe(iface: Interface) -> str:
    if iface.address is None:
        return f"{iface.device} has no static address"
    nets = ", ".join(str(n) for n in iface.networks())
    return f"{iface.device} is on {nets}"


def _check_gateways(r: Reader, host: Host) -> None:
    defaults = []
    for iface in host.interfaces:
        if iface.gateway is None:
            continue
        at: Key = ("interfaces", iface.device, "gateway")
        if iface.address is None:
            r.fail(
                at,
                f"{str(iface.gateway)!r} needs a static address on {iface.device} "
                "(a dhcp interface gets its gateway from DHCP)",
            )
        elif iface.gateway not in iface.address.network:
            r.fail(at, f"gateway {str(iface.gateway)!r} is not on-link: {_describe(iface)}")
        elif iface.defroute is not False:
            defaults.append(iface.device)
    if host.gateway is not None:
        holder = gateway_device(host)
        if holder is None:
            nets = "; ".join(_describe(i) for i in host.interfaces) or "the host has no interfaces"
            r.fail(
                ("gateway",),
                f"gateway {str(host.gateway)!r} is not on-link on any interface ({nets})",
            )
        elif holder.gateway not in (None, host.gateway):
            r.fail(
                ("gateway",),
                f"{str(host.gateway)!r} conflicts with gateway "
                f"{str(holder.gateway)!r} of {holder.device}",
            )
        elif holder.gateway is None and holder.defroute is not False:
            defaults.append(holder.device)
    if len(defaults) > 1:
        r.fail(
            ("interfaces", defaults[1], "gateway"),
            f"a second default gateway (also on {defaults[0]}); each GATEWAY installs a "
            "metric-0 default and the last one replaces the other; set defroute = false on "
            "one or use routes with metrics",
        )


def _address_places(host: Host) -> list[tuple[Key, IPv4Address]]:
    places: list[tuple[Key, IPv4Address]] = []
    for iface in host.interfaces:
        if iface.address is not None:
            places.append((("interfaces", iface.device, "address"), iface.address.ip))
        for index, alias in enumerate(iface.aliases):
            places.append((("interfaces", iface.device, "aliases", index), alias.address.ip))
    for index, alias in enumerate(host.loopback):
        places.append((("loopback", index), alias.address.ip))
    return places


def _check_duplicates(r: Reader, host: Host) -> None:
    seen: dict[IPv4Address, Key] = {}
    for at, address in _address_places(host):
        if address in seen:
            first_file, first_path = r.layered.locate(seen[address])
            r.fail(at, f"address {str(address)!r} is assigned twice (also at {first_path})")
        else:
            seen[address] = at


def _check_alias_indices(r: Reader, host: Host) -> None:
    groups: list[tuple[Key, str, tuple[Alias, ...]]] = [
        (("interfaces", i.device, "aliases"), i.device, i.aliases) for i in host.interfaces
    ]
    groups.append((("loopback",), "lo", host.loopback))
    for keys, device, aliases in groups:
        seen: dict[int, int] = {}
        for index, alias in enumerate(aliases):
            if alias.number is None:
                continue
            if alias.number in seen:
                r.fail(
                    (*keys, index, "index"),
                    f"alias index {alias.number} is used twice on {device} "
                    f"(also by {keys[-1]}[{seen[alias.number]}]: {device}:{alias.number})",
                )
            else:
                seen[alias.number] = index


def _check_loopback(r: Reader, host: Host) -> None:
    for index, alias in enumerate(host.loopback):
        if alias.address.network.prefixlen != 32:
            r.fail(
                ("loopback", index),
                f"{str(alias.address)!r} on lo must be a /32: the kernel makes the whole "
                f"{alias.address.network} local on lo and the host can no longer reach it",
            )


def _table_known(host: Host, table: str | None) -> bool:
    return (
        table is None
        or table == "main"
        or table.isdigit()
        or any(t.name == table for t in host.tables)
    )


def _unknown_table(host: Host, table: str) -> str:
    names = ", ".join(t.name for t in host.tables) or "none"
    return (
        f"table {table!r} is not defined; add it under 'tables' (defined here: {names}) "
        "or use a number"
    )


def _check_route(r: Reader, host: Host, at: Key, route: Route) -> None:
    if host.interface(route.dev) is None:
        r.fail((*at, "dev"), f"device {route.dev!r} is not an interface of this host")
        return
    if route.via is not None and route.nexthops:
        r.fail((*at, "via"), "give either 'via' or 'nexthops', not both")
    if route.via is not None:
        _check_hop(r, host, at, route.via, route.dev)
    for index, hop in enumerate(route.nexthops):
        _check_hop(r, host, (*at, "nexthops", index), hop.via, hop.dev)
    if route.src is not None and route.src not in host.addresses():
        r.fail((*at, "src"), f"{str(route.src)!r} is not an address of this host")
    if not _table_known(host, route.table):
        r.fail((*at, "table"), _unknown_table(host, route.table or ""))


def _check_hop(r: Reader, host: Host, at: Key, via: IPv4Address, dev: str) -> None:
    iface = host.interface(dev)
    if iface is None:
        r.fail((*at, "dev"), f"device {dev!r} is not an interface of this host")
    elif iface.address is not None and not on_link(host, dev, via):
        r.fail((*at, "via"), f"next hop {str(via)!r} is not on-link: {_describe(iface)}")


def _check_rules(r: Reader, host: Host) -> None:
    devices = {i.device for i in host.interfaces} | {"lo"}
    seen: dict[int, Key] = {}
    for iface in host.interfaces:
        for index, rule in enumerate(iface.rules):
            at: Key = ("interfaces", iface.device, "rules", index)
            if not _table_known(host, rule.table):
                r.fail((*at, "table"), _unknown_table(host, rule.table))
            if rule.iif is not None and rule.iif not in devices:
                r.fail((*at, "iif"), f"device {rule.iif!r} is not an interface of this host")
            if rule.priority is None:
                continue
            if rule.priority in seen:
                _, first = r.layered.locate(seen[rule.priority])
                r.fail(
                    (*at, "priority"),
                    f"priority {rule.priority} is used twice (also at "
                    f"{first}); the kernel orders rules by priority alone",
                )
            else:
                seen[rule.priority] = (*at, "priority")


def _check_roles(r: Reader, host: Host) -> None:
    from ifgen.roles import check_roles

    check_roles(r, host)
