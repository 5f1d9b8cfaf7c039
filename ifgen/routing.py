"""Offline model of the kernel's IPv4 route lookup on a host after `ifup` of its files."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from ifgen.errors import IfgenError
from ifgen.model import Route, Rule, device_sort_key
from ifgen.plan import HostPlan

LOCAL, MAIN, DEFAULT = 255, 254, 253
BUILTIN_TABLES = {"local": LOCAL, "main": MAIN, "default": DEFAULT}
SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254}
SCOPE_NAMES = {0: "global", 200: "site", 253: "link", 254: "host"}
ANY = IPv4Network("0.0.0.0/0")
LOOPBACK = IPv4Interface("127.0.0.1/8")


class LookupProblem(IfgenError):
    """A lookup the kernel would refuse (a source the host does not hold, ...)."""

    def __init__(self, key: str, value: IPv4Address, message: str) -> None:
        self.key, self.value, self.message = key, value, message
        super().__init__(f"--{key} {value}: {message}")


@dataclass(frozen=True, slots=True)
class Address:
    """One configured address; secondaries share a primary's exact subnet on one device."""

    iface: IPv4Interface
    dev: str
    label: str
    secondary: bool = False
    broadcast: IPv4Address | None = None
    scope: int = 0


@dataclass(frozen=True, slots=True)
class Hop:
    """One next hop of a route entry."""

    via: IPv4Address | None
    dev: str
    weight: int = 1


@dataclass(frozen=True, slots=True)
class Entry:
    """One route in one table; `owner` is the address whose configuration made the kernel add it."""

    table: int
    to: IPv4Network
    hops: tuple[Hop, ...]
    kind: str = "unicast"
    src: IPv4Address | None = None
    metric: int = 0
    scope: int = 0
    text: str = ""
    owner: IPv4Address | None = None


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One rule of the routing policy database."""

    priority: int
    table: int
    from_: IPv4Network = ANY
    to: IPv4Network = ANY
    iif: str | None = None
    fwmark: str | None = None
    text: str = ""
    dev: str = ""


BUILTIN_RULES = (
    PolicyRule(0, LOCAL, text="0: from all lookup local"),
    PolicyRule(32766, MAIN, text="32766: from all lookup main"),
    PolicyRule(32767, DEFAULT, text="32767: from all lookup default"),
)


@dataclass(slots=True)
class State:
    """The routing state of one host: links, addresses, tables and rules, in kernel order."""

    tables: dict[str, int]
    links: list[str] = field(default_factory=list)
    up: set[str] = field(default_factory=set)
    addresses: list[Address] = field(default_factory=list)
    routes: list[Entry] = field(default_factory=list)
    rules: list[PolicyRule] = field(default_factory=lambda: list(BUILTIN_RULES))
    refused: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    # Until the first rule is added the kernel keeps local and main in one trie and looks up
    # only that (fib_unmerge); `ip route get` then names table main even for local routes.
    merged: bool = True

    def table_name(self, number: int) -> str:
        """The name `ip` prints for a table id (rt_tables), else the number."""
        for name, value in {**BUILTIN_TABLES, **self.tables}.items():
            if value == number:
                return name
        return str(number)

    def table_id(self, ref: str | None) -> int | None:
        """Resolve a table reference as `ip` does; None when it names no table."""
        if ref is None:
            return MAIN
        if ref.isdigit():
            return int(ref)
        return {**BUILTIN_TABLES, **self.tables}.get(ref)

    def primaries(self, dev: str) -> list[Address]:
        """The device's primary addresses in kernel list order."""
        return [a for a in self.addresses if a.dev == dev and not a.secondary]

    def holds(self, ip: IPv4Address) -> bool:
        """True when the host holds the address (a local route in the local table)."""
        entry = table_lookup(self, LOCAL, ip)
        return entry is not None and entry.kind == "local"


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


def add_route(state: State, route: Route, file: str) -> None:
    """`ip route add LINE` as ifup-routes runs it; a refused line is recorded, as ifup goes on."""
    from ifgen.render import ip_route

    text = ip_route(route)
    table = state.table_id(route.table)
    if table is None:
        state.refused.append(f"{file}: {text}: table {route.table!r} is not in rt_tables")
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
    table = state.table_id(rule.table)
    if table is None:
        state.refused.append(f"{file}: {text}: table {rule.table!r} is not in rt_tables")
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


# -- lookup -------------------------------------------------------------------------------


def table_lookup(
    state: State, table: int, dest: IPv4Address, oif: str | None = None, scope: int = 0
) -> Entry | None:
    """Longest prefix first; then the lowest metric; then the route added first."""
    best: Entry | None = None
    tables = (LOCAL, MAIN) if table == MAIN and state.merged else (table,)
    for entry in state.routes:
        if entry.table not in tables or dest not in entry.to or entry.scope < scope:
            continue
        if oif is not None and all(h.dev != oif for h in entry.hops):
            continue
        if best is None or _better(entry, best):
            best = entry
    return best


def _better(entry: Entry, best: Entry) -> bool:
    if entry.to.prefixlen != best.to.prefixlen:
        return entry.to.prefixlen > best.to.prefixlen
    return entry.metric < best.metric


def rule_matches(rule: PolicyRule, dest: IPv4Address, source: IPv4Address | None) -> bool:
    """Selector match for a locally generated packet (iif lo, no fwmark)."""
    if (source or IPv4Address(0)) not in rule.from_ or dest not in rule.to:
        return False
    if rule.iif is not None and rule.iif != "lo":
        return False
    if rule.fwmark is not None:
        value, _, mask = rule.fwmark.partition("/")
        return int(value, 0) & int(mask or "0xffffffff", 0) == 0
    return True


def policy_lookup(
    state: State,
    dest: IPv4Address,
    source: IPv4Address | None,
    oif: str | None = None,
    scope: int = 0,
) -> tuple[PolicyRule | None, Entry | None]:
    """Walk the rules in priority order; the first table holding a match answers."""
    rules = [r for r in state.rules if r.table == MAIN][:1] if state.merged else state.rules
    for rule in rules:
        if rule_matches(rule, dest, source):
            entry = table_lookup(state, rule.table, dest, oif, scope)
            if entry is not None:
                return rule, entry
    return None, None


def select_source(
    state: State, dev: str, via: IPv4Address | None, scope: int
) -> IPv4Address | None:
    """Pick the source as inet_select_addr does (DEV in the hop's subnet, DEV, any device)."""
    usable = [a for a in state.primaries(dev) if a.scope <= scope]
    for address in usable:
        if via is None or via in address.iface.network:
            return address.iface.ip
    if usable:
        return usable[0].iface.ip
    for link in state.links:
        for address in state.primaries(link):
            if address.scope <= scope:
                return address.iface.ip
    return None


# -- the answer ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HopAnswer:
    """Where one next hop sends the packet, and with which source address."""

    via: IPv4Address | None
    dev: str
    src: IPv4Address | None


@dataclass(frozen=True, slots=True)
class Answer:
    """What `ip route get DEST [from SRC]` would say, and why."""

    host: str
    dest: IPv4Address
    source: IPv4Address | None
    without: IPv4Address | None
    kind: str
    rule: str
    table: str
    route: str
    hops: tuple[HopAnswer, ...]
    changes: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()

    def values(self, name: str) -> list[str]:
        """Every next hop's value for `via`, `dev` or `src` ("" when it has none)."""
        return sorted({str(getattr(h, name) or "") for h in self.hops})


def explain(
    plan: HostPlan,
    dest: IPv4Address,
    source: IPv4Address | None = None,
    without: IPv4Address | None = None,
) -> Answer:
    """Answer `ip route get DEST [from SOURCE]` for the host as its files leave it."""
    return lookup(host_state(plan, without), plan.host.name, dest, source, without)


def host_state(plan: HostPlan, without: IPv4Address | None = None) -> State:
    """The state after boot, and after `ifdown` of the alias holding WITHOUT."""
    state = build_state(plan)
    if without is not None:
        take_down(state, without)
    return state


def lookup(
    state: State,
    host: str,
    dest: IPv4Address,
    source: IPv4Address | None = None,
    without: IPv4Address | None = None,
) -> Answer:
    """Answer one lookup on a state built by host_state (reused for many lookups)."""
    if source is not None and not state.holds(source):
        raise LookupProblem("from", source, f"not an address of {host}")
    rule, entry = policy_lookup(state, dest, source)
    table = MAIN if entry is not None and state.merged else entry.table if entry else 0
    found = (
        (entry.kind, rule.text, state.table_name(table), entry.text)
        if rule is not None and entry is not None
        else ("unreachable", "", "", "")
    )
    hops = (
        tuple(_hop_answer(state, entry, hop, dest, source) for hop in entry.hops) if entry else ()
    )
    return Answer(
        host,
        dest,
        source,
        without,
        *found,
        hops,
        tuple(state.changes),
        tuple(state.refused),
    )


def explain_args(plan: HostPlan, dest: str, source: str | None, without: str | None) -> Answer:
    """Parse the command line's addresses (bad ones exit 2), then explain."""
    from ifgen import values

    parsed: list[IPv4Address | None] = []
    for flag, text in (("DEST", dest), ("--from", source), ("--without", without)):
        try:
            parsed.append(None if text is None else values.parse_address(text))
        except values.BadValue as exc:
            raise IfgenError(f"{flag}: {exc}") from None
    assert parsed[0] is not None
    return explain(plan, parsed[0], parsed[1], parsed[2])


def _hop_answer(
    state: State, entry: Entry, hop: Hop, dest: IPv4Address, source: IPv4Address | None
) -> HopAnswer:
    if entry.kind == "local":
        return HopAnswer(None, "lo", source or entry.src or dest)
    src = source or entry.src or select_source(state, hop.dev, hop.via, entry.scope)
    return HopAnswer(hop.via, hop.dev, src)


def format_answer(answer: Answer) -> str:
    """The answer as a reviewer reads it."""
    head = f"{answer.host}: {answer.dest}"
    head += f" from {answer.source}" if answer.source else ""
    head += f" without {answer.without}" if answer.without else ""
    lines = [head]
    lines += [f"  after ifdown: {c}" for c in answer.changes]
    lines += [f"  refused at ifup: {r}" for r in answer.refused]
    if answer.kind == "unreachable":
        return "\n".join([*lines, "  unreachable: no rule finds a route (Network is unreachable)"])
    lines += [f"  rule   {answer.rule}", f"  table  {answer.table}", f"  route  {answer.route}"]
    if answer.kind != "unicast":
        lines.append(f"  type   {answer.kind}")
    for hop in answer.hops:
        prefix = "  nexthop " if len(answer.hops) > 1 else "  "
        via = f"via {hop.via} " if hop.via else ""
        lines.append(f"{prefix}{via}dev {hop.dev} src {hop.src}")
    return "\n".join(lines)


def answer_json(answer: Answer) -> dict[str, object]:
    """The answer for a machine reader."""
    return {
        "host": answer.host,
        "dest": str(answer.dest),
        "from": str(answer.source) if answer.source else None,
        "without": str(answer.without) if answer.without else None,
        "type": answer.kind,
        "rule": answer.rule,
        "table": answer.table,
        "route": answer.route,
        "nexthops": [
            {
                "via": str(h.via) if h.via else None,
                "dev": h.dev,
                "src": str(h.src) if h.src else None,
            }
            for h in answer.hops
        ],
        "changes": list(answer.changes),
        "refused": list(answer.refused),
    }
