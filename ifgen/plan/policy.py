"""Per-source policy routing, multipath defaults and loose reverse-path filtering."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import TYPE_CHECKING

from ifgen.model import Host, Interface, Policy, Route, Rule, Sysctl, device_sort_key

if TYPE_CHECKING:
    from ifgen.inventory import Key
    from ifgen.plan import Draft
    from ifgen.validate import Reader

RP_FILTER_REASON = "interfaces.{0}.rp_filter (reverse-path filter for asymmetric routing)"


def plan_policies(draft: Draft) -> None:
    """Expand policies into rules and table routes, place multipath routes, add rp_filter."""
    for iface in draft.host.interfaces:
        for policy in iface.policies:
            draft.rules.setdefault(iface.device, []).append(policy_rule(policy))
            draft.routes.setdefault(iface.device, []).extend(policy_routes(iface, policy))
        if iface.rp_filter is not None:
            key = f"net.ipv4.conf.{iface.device}.rp_filter"
            reason = RP_FILTER_REASON.format(iface.device)
            draft.sysctls.append(Sysctl(key, str(iface.rp_filter), reason))
    _place_multipath(draft)


def policy_rule(policy: Policy) -> Rule:
    """`from A/32 table T priority P` (P None: assigned with the other rules)."""
    source = IPv4Network(f"{policy.source}/32")
    return Rule(dev=policy.dev, table=policy.table, from_=source, priority=policy.priority)


def policy_routes(iface: Interface, policy: Policy) -> list[Route]:
    """The table's own copy of the connected subnet, then its default via the gateway."""
    network = _address_of(iface, policy.source).network
    src = policy.source if policy.connected_src else None
    return [
        # Without it, traffic from A to its own subnet would follow the table's default.
        Route(to=network, dev=iface.device, src=src, table=policy.table),
        Route(to=None, dev=iface.device, via=policy.gateway, table=policy.table),
    ]


def _address_of(iface: Interface, address: IPv4Address) -> IPv4Interface:
    for held in iface.addresses():
        if held.ip == address:
            return held
    raise ValueError(f"{address} is not on {iface.device}")  # crosscheck rules this out


def bring_up_order(device: str) -> tuple[object, ...]:
    """The network service's order: plain devices naturally sorted, VLANs after them."""
    return ("." in device, device_sort_key(device))


def _place_multipath(draft: Draft) -> None:
    # ip refuses a next hop whose device is not up yet, so the line goes to the route
    # file of the last of its devices the service brings up.
    for device in list(draft.routes):
        keep: list[Route] = []
        for route in draft.routes[device]:
            if not route.nexthops:
                keep.append(route)
                continue
            last = max((hop.dev for hop in route.nexthops), key=bring_up_order)
            target = keep if last == device else draft.routes.setdefault(last, [])
            target.append(route)
        draft.routes[device] = keep


def check_policy_routing(r: Reader, host: Host) -> None:
    """Policies: source held, gateway on-link, table defined, priorities unique; multipath."""
    taken: dict[int, Key] = {
        rule.priority: ("interfaces", i.device, "rules", n, "priority")
        for i in host.interfaces
        for n, rule in enumerate(i.rules)
        if rule.priority is not None
    }
    for iface in host.interfaces:
        for index, policy in enumerate(iface.policies):
            at: Key = ("interfaces", iface.device, "policy", index)
            _check_policy(r, host, iface, at, policy)
            _check_priority(r, taken, (*at, "priority"), policy.priority)
        _check_rp_filter(r, host, iface)
        for index, rule in enumerate(iface.rules):
            _check_rule_source(r, host, ("interfaces", iface.device, "rules", index), rule)
        for index, route in enumerate(iface.routes):
            _check_multipath(r, host, ("interfaces", iface.device, "routes", index), route)


def _held_by(iface: Interface) -> str:
    held = ", ".join(str(a.ip) for a in iface.addresses()) or "no static address"
    return f"{iface.device} has {held}"


def _check_policy(r: Reader, host: Host, iface: Interface, at: Key, policy: Policy) -> None:
    if policy.source not in (a.ip for a in iface.addresses()):
        r.fail(
            (*at, "source"),
            f"{str(policy.source)!r} is not an address of {iface.device} ({_held_by(iface)}); "
            "a policy belongs on the interface that holds its source address",
        )
    elif not any(policy.gateway in net for net in iface.networks()):
        nets = ", ".join(str(n) for n in iface.networks())
        r.fail(
            (*at, "gateway"),
            f"gateway {str(policy.gateway)!r} is not on-link: {iface.device} is on {nets}",
        )
    if not policy.table.isdigit() and all(t.name != policy.table for t in host.tables):
        names = ", ".join(t.name for t in host.tables) or "none"
        r.fail(
            (*at, "table"),
            f"table {policy.table!r} is not defined; add it under 'tables' with an id "
            f"from 1 to 252 (defined here: {names}) or use a number",
        )


def _check_rp_filter(r: Reader, host: Host, iface: Interface) -> None:
    key = f"net.ipv4.conf.{iface.device}.rp_filter"
    for item in host.sysctls:
        if iface.rp_filter is not None and item.key == key and item.value != str(iface.rp_filter):
            r.fail(
                ("interfaces", iface.device, "rp_filter"),
                f"{iface.rp_filter} conflicts with {key} = {item.value!r} under 'sysctl' "
                f"({item.reason}); set it in one place",
            )


def _check_priority(r: Reader, taken: dict[int, Key], at: Key, priority: int | None) -> None:
    if priority is None:
        return
    if priority in taken:
        _, first = r.layered.locate(taken[priority])
        r.fail(
            at,
            f"priority {priority} is used twice (also at {first}); "
            "the kernel orders rules by priority alone",
        )
    else:
        taken[priority] = at


def _check_rule_source(r: Reader, host: Host, at: Key, rule: Rule) -> None:
    # A rule with iif matches forwarded traffic, whose sources are other hosts'.
    if rule.from_ is None or rule.iif is not None or rule.from_.prefixlen != 32:
        return
    if rule.from_.network_address not in host.addresses():
        r.fail(
            (*at, "from"),
            f"{str(rule.from_.network_address)!r} is not an address of this host; a rule "
            "from one address matches only what the host sends from it (add 'iif' for "
            "forwarded traffic)",
        )


def _check_multipath(r: Reader, host: Host, at: Key, route: Route) -> None:
    if not route.nexthops or route.to is not None or route.table not in (None, "main"):
        return
    if route.metric not in (None, 0):
        return
    for iface in host.interfaces:
        gateway = iface.gateway or (host.gateway if _holds(iface, host.gateway) else None)
        if gateway is None or iface.defroute is False:
            continue
        r.fail(
            at,
            f"a multipath default at metric 0 in table main cannot coexist with GATEWAY "
            f"{str(gateway)!r} of {iface.device}: ifup adds that default first, so the "
            "multipath line is refused (RHEL 6/7) or overwrites it (RHEL 8/9); drop the "
            "gateway (make it a next hop) or give the route a metric",
        )
        return


def _holds(iface: Interface, gateway: IPv4Address | None) -> bool:
    return gateway is not None and iface.address is not None and gateway in iface.address.network
