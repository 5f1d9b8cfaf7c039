"""Replay the boot over a host's plan into routing state, and `ifdown` of an alias."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from ifgen.model import Route, Rule, device_sort_key
from ifgen.plan import HostPlan
from ifgen.routing import (
    ANY,
    BUILTIN_RULES,
    LOCAL,
    LOOPBACK,
    MAIN,
    SCOPE_NAMES,
    SCOPES,
    Address,
    Entry,
    Hop,
    LookupProblem,
    PolicyRule,
    State,
    policy_lookup,
    table_lookup,
)

# -- building the state ifup leaves behind ---------------------------------------------------


def build_state(plan: HostPlan) -> State:
    """Replay the boot service over the plan: lo first, then each device in natural order."""
    state = State({t.name: t.id for t in plan.tables})
    files = {f.name: dict(f.keys) for f in plan.ifcfgs}
    state.links = ["lo", *ifup_order(files)]
    _ifup(state, plan, files, "lo")
    for dev in state.links[1:]:
        if files[dev].get("ONBOOT", "yes") != "no":
            _ifup(state, plan, files, dev)
    return state


def ifup_order(files: dict[str, dict[str, str]]) -> list[str]:
    """Plain devices in natural order, then VLANs, as the network service starts them."""
    plain = [n for n in files if ":" not in n and n != "lo"]
    return sorted(plain, key=lambda n: ("." in n, device_sort_key(n)))


def _ifup(state: State, plan: HostPlan, files: dict[str, dict[str, str]], dev: str) -> None:
    state.up.add(dev)
    if dev == "lo":
        add_address(state, Address(LOOPBACK, "lo", "lo", scope=SCOPES["host"]))
    keys = files.get(dev, {})
    if "IPADDR" in keys:
        add_address(state, _address(dev, keys))
    if "GATEWAY" in keys and keys.get("DEFROUTE") != "no":
        gateway = IPv4Address(keys["GATEWAY"])
        metric = int(keys.get("METRIC", "0"))
        text = f"default via {gateway} dev {dev}" + (f" metric {metric}" if metric else "")
        entry = Entry(MAIN, ANY, (Hop(gateway, dev),), metric=metric, text=text)
        _install(state, entry, f"GATEWAY in ifcfg-{dev}", replace_key=True)
    # ifup-aliases walks ifcfg-DEV:* in shell glob order (:1, :10, :2).
    for name in sorted(n for n in files if n.startswith(f"{dev}:")):
        if files[name].get("ONPARENT", "yes") != "no" and "IPADDR" in files[name]:
            add_address(state, _address(dev, files[name]))
    for route in plan.routes.get(dev, ()):
        add_route(state, route, f"route-{dev}")
    for rule in plan.rules.get(dev, ()):
        add_rule(state, rule, f"rule-{dev}")


def _address(dev: str, keys: dict[str, str]) -> Address:
    iface = IPv4Interface(f"{keys['IPADDR']}/{keys.get('PREFIX', '32')}")
    brd = keys.get("BROADCAST")
    # `brd +` (what ifup asks for) only yields a broadcast for prefixes up to /30.
    broadcast = IPv4Address(brd) if brd else None
    if broadcast is None and iface.network.prefixlen <= 30:
        broadcast = iface.network.broadcast_address
    return Address(iface, dev, keys.get("DEVICE", dev), broadcast=broadcast)


def add_address(state: State, address: Address) -> None:
    """`ip addr add`: the address plus the local, broadcast and prefix routes the kernel adds."""
    same = [a for a in state.primaries(address.dev) if a.iface.network == address.iface.network]
    if any(a.iface.ip == address.iface.ip and a.dev == address.dev for a in state.addresses):
        state.refused.append(f"ip addr add {address.iface} dev {address.dev}: File exists")
        return
    if same:
        address = replace(address, secondary=True)
    state.addresses.append(address)
    for entry in kernel_routes(address, same[0] if same else address):
        if entry not in state.routes:
            state.routes.append(entry)


def kernel_routes(address: Address, primary: Address) -> list[Entry]:
    """What fib_add_ifaddr installs for an address (fib_frontend.c)."""
    ip, dev, prim = address.iface.ip, address.dev, primary.iface.ip
    link, host = SCOPES["link"], SCOPES["host"]
    found = [_kernel(LOCAL, IPv4Network(ip), dev, "local", prim, host, ip)]
    if address.broadcast is not None and address.broadcast != IPv4Address("255.255.255.255"):
        found.append(
            _kernel(LOCAL, IPv4Network(address.broadcast), dev, "broadcast", prim, link, ip)
        )
    net = address.iface.network
    if address.secondary or net.prefixlen == 32:
        return found
    if dev == "lo":
        found.append(_kernel(LOCAL, net, dev, "local", ip, host, ip))
    else:
        found.append(_kernel(MAIN, net, dev, "unicast", ip, link, ip))
    if net.prefixlen < 31:
        found.append(
            _kernel(LOCAL, IPv4Network(net.broadcast_address), dev, "broadcast", ip, link, ip)
        )
    return found


def _kernel(
    table: int,
    to: IPv4Network,
    dev: str,
    kind: str,
    src: IPv4Address,
    scope: int,
    owner: IPv4Address,
) -> Entry:
    words = [] if kind == "unicast" else [kind]
    words += [str(to), "dev", dev, "proto", "kernel", "scope", SCOPE_NAMES[scope], "src", str(src)]
    text = " ".join(words) + f"  (kernel, for {owner})"
    return Entry(table, to, (Hop(None, dev),), kind, src, 0, scope, text, owner)


def _table_or_refuse(state: State, table: str | None, line: str) -> int | None:
    """The table's id; None, with the line recorded as refused, when rt_tables lacks it."""
    found = state.table_id(table)
    if found is None:
        state.refused.append(f"{line}: table {table!r} is not in rt_tables")
    return found


def add_route(state: State, route: Route, file: str) -> None:
    """`ip route add LINE` as ifup-routes runs it; a refused line is recorded, as ifup goes on."""
    from ifgen.render import ip_route

    text = ip_route(route)
    table = _table_or_refuse(state, route.table, f"{file}: {text}")
    if table is None:
        return
    hops = tuple(Hop(h.via, h.dev, h.weight) for h in route.nexthops) or (
        Hop(route.via, route.dev),
    )
    gateway = route.via is not None or bool(route.nexthops)
    scope = SCOPES[route.scope] if route.scope else (0 if gateway else SCOPES["link"])
    entry = Entry(
        table, route.to or ANY, hops, "unicast", route.src, route.metric or 0, scope, text
    )
    _install(state, entry, file)


def _install(state: State, entry: Entry, where: str, replace_key: bool = False) -> None:
    problem = _route_problem(state, entry)
    if problem is None and not replace_key and _same_key(state, entry):
        problem = "File exists"
    if problem is not None:
        state.refused.append(f"{where}: {entry.text}: {problem}")
        return
    entry = replace(entry, text=f"{entry.text}  ({where})")
    old = _same_key(state, entry)
    if replace_key and old is not None:
        state.routes[state.routes.index(old)] = entry
    else:
        state.routes.append(entry)


def _same_key(state: State, entry: Entry) -> Entry | None:
    for old in state.routes:
        if (old.table, old.to, old.metric) == (entry.table, entry.to, entry.metric):
            return old
    return None


def _route_problem(state: State, entry: Entry) -> str | None:
    """Why the kernel would refuse this route (fib_create_info, fib_check_nh), or None."""
    if entry.src is not None and not state.holds(entry.src):
        return "Invalid prefsrc address"
    for hop in entry.hops:
        if hop.dev not in state.links:
            return f"Cannot find device {hop.dev!r}"
        if hop.via is None and hop.dev not in state.up:
            return "Device for nexthop is not up"
        if hop.via is not None and not _gateway_ok(state, entry, hop):
            return "Nexthop has invalid gateway"
    return None


def _gateway_ok(state: State, entry: Entry, hop: Hop) -> bool:
    assert hop.via is not None
    scope = max(entry.scope + 1, SCOPES["link"])
    found = None
    if entry.table != MAIN:
        found = table_lookup(state, entry.table, hop.via, hop.dev, scope)
    if found is None:
        found = policy_lookup(state, hop.via, None, hop.dev, scope)[1]
    return found is not None and found.kind in ("unicast", "local")


def add_rule(state: State, rule: Rule, file: str) -> None:
    """`ip rule add LINE`; kept in priority order, after existing rules of the same priority."""
    from ifgen.render import ip_rule

    text = ip_rule(rule)
    table = _table_or_refuse(state, rule.table, f"{file}: {text}")
    if table is None:
        return
    priority = rule.priority or 0
    new = PolicyRule(
        priority,
        table,
        rule.from_ or ANY,
        rule.to or ANY,
        rule.iif,
        rule.fwmark,
        f"{priority}: {text}  ({file})",
        rule.dev,
    )
    if any(_rule_key(old) == _rule_key(new) for old in state.rules):
        state.refused.append(f"{file}: {text}: File exists")
        return
    at = len([r for r in state.rules if r.priority <= new.priority])
    state.rules.insert(at, new)
    state.merged = False


def _rule_key(rule: PolicyRule) -> tuple[object, ...]:
    return (rule.priority, rule.table, rule.from_, rule.to, rule.iif, rule.fwmark)


# -- taking an alias down ------------------------------------------------------------------


def take_down(state: State, ip: IPv4Address) -> None:
    """`ifdown DEV:N` for the alias holding IP (initscripts-facts §3 and §9)."""
    address = next((a for a in state.addresses if a.iface.ip == ip), None)
    if address is None or ":" not in address.label:
        raise LookupProblem("without", ip, "not the address of an alias or loopback VIP")
    mates = [a for a in state.addresses if a.dev == address.dev and a is not address]
    if not address.secondary and any(a.iface.network == address.iface.network for a in mates):
        raise LookupProblem(
            "without",
            ip,
            f"the primary of {address.iface.network} on {address.dev}; taking it down also "
            "removes the secondaries there, which explain does not model",
        )
    state.addresses.remove(address)
    _drop_kernel_routes(state, address)
    if not any(a.iface.ip == ip for a in state.addresses):
        gone = [e for e in state.routes if e.table == MAIN and e.src == ip]
        state.routes = [e for e in state.routes if e not in gone]
        state.changes += [f"route dropped (its src is gone): {e.text}" for e in gone]
    parent = address.label.split(":", 1)[0]
    dropped = [r for r in state.rules if r.dev == parent and r not in BUILTIN_RULES]
    state.rules = [r for r in state.rules if r not in dropped]
    state.changes.insert(0, f"address removed: {address.iface} ({address.label})")
    state.changes += [f"rule removed by ifdown-routes (rule-{parent}): {r.text}" for r in dropped]


def _drop_kernel_routes(state: State, address: Address) -> None:
    still: set[tuple[object, ...]] = set()
    for other in state.addresses:
        prim = next(
            (p for p in state.primaries(other.dev) if p.iface.network == other.iface.network), other
        )
        still |= {_entry_key(e) for e in kernel_routes(other, prim)}
    primary = state.primaries(address.dev)
    prim = next((p for p in primary if p.iface.network == address.iface.network), address)
    for entry in kernel_routes(address, prim):
        if _entry_key(entry) not in still:
            state.routes = [e for e in state.routes if _entry_key(e) != _entry_key(entry)]


def _entry_key(entry: Entry) -> tuple[object, ...]:
    return (entry.table, entry.to, entry.kind, entry.hops[0].dev)
