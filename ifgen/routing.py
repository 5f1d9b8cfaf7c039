"""The kernel's IPv4 routing state and its lookup: tables, rules, longest prefix, source choice."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from ifgen.errors import IfgenError

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
