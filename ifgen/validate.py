"""Validate merged inventory mappings into Host records, collecting every problem."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Any, TypeVar

from ifgen import values as v
from ifgen.errors import Problem, ValidationError
from ifgen.inventory import Inventory, Key, Layered, Section, format_path, merge_sections
from ifgen.links import (
    LINK_KEYS,
    attach_slaves,
    parse_alias_address,
    read_link_keys,
    reject_ipv6_source,
)
from ifgen.model import (
    Alias,
    Expect,
    Host,
    Interface,
    NextHop,
    Policy,
    Route,
    Rule,
    Sysctl,
    Table,
    device_sort_key,
)
from ifgen.roles import read_roles
from ifgen.suggest import closest, unknown_key_message

T = TypeVar("T")

SECTION_KEYS = (
    "gateway",
    "interfaces",
    "loopback",
    "tables",
    "sysctl",
    "hostname",
    "nozeroconf",
    "services",
    "roles",
    "expect",
)
HOST_KEYS = ("groups", *SECTION_KEYS)
IFACE_KEYS = (
    "address",
    "hwaddr",
    "mtu",
    "onboot",
    "nm_controlled",
    "arpcheck",
    "arpupdate",
    "defroute",
    "gateway",
    "aliases",
    "routes",
    "rules",
    "extra",
    "prefer_source",
    "source_metric",
    "fallback_metric",
    "policy",
    "rp_filter",
    *LINK_KEYS,
)
POLICY_KEYS = ("source", "table", "gateway", "priority", "connected_src")
ALIAS_KEYS = ("address", "index", "broadcast", "arpcheck", "arpupdate")
ROUTE_KEYS = ("to", "via", "dev", "src", "metric", "table", "scope", "proto", "nexthops")
NEXTHOP_KEYS = ("via", "dev", "weight")
RULE_KEYS = ("from", "to", "iif", "fwmark", "table", "priority")
# Keys ifgen writes itself; `extra` may not set them (say which inventory key does).
MANAGED_IFCFG = {
    "DEVICE": "the interface name",
    "TYPE": None,
    "BOOTPROTO": "address = 'dhcp'",
    "IPADDR": "address",
    "PREFIX": "address",
    "NETMASK": "address",
    "GATEWAY": "gateway",
    "HWADDR": "hwaddr",
    "MTU": "mtu",
    "ONBOOT": "onboot",
    "NM_CONTROLLED": "nm_controlled",
    "ARPCHECK": "arpcheck",
    "ARPUPDATE": "arpupdate",
    "DEFROUTE": "defroute",
    "ONPARENT": "aliases",
    "NAME": None,
    "UUID": None,
    "BONDING_MASTER": "bond",
    "BONDING_OPTS": "bond",
    "MASTER": "bond.slaves on the master",
    "SLAVE": "bond.slaves on the master",
    "VLAN": "a dotted device name like 'bond0.100'",
    "PHYSDEV": "a dotted device name like 'bond0.100'",
    "IPV6INIT": "ipv6_address",
    "IPV6_AUTOCONF": "ipv6_address",
    "IPV6ADDR": "ipv6_address",
    "IPV6ADDR_SECONDARIES": "ipv6_secondaries",
    "IPV6_DEFAULTGW": "ipv6_gateway",
}
BUILTIN_TABLES = ("main",)
PREFER_SOURCE_GATEWAY = (
    " (with prefer_source it becomes the gateway of the two defaults in route-DEV: a GATEWAY "
    "line would install a metric-0 default without src that beats the preferred source)"
)
PRIORITY_RANGE = (1, 32765)


def build_hosts(inventory: Inventory, only: Iterable[str] = ()) -> list[Host]:
    """Validate every host (or the named ones); raise ValidationError with all problems."""
    problems: list[Problem] = []
    names = sorted(inventory.hosts)
    wanted = list(only)
    for name in wanted:
        if name not in inventory.hosts:
            near = closest(name, names)
            hint = f"; did you mean {near!r}?" if near else f"; hosts: {', '.join(names)}"
            problems.append(Problem(inventory.name, "", f"no host {name!r} in the inventory{hint}"))
    _check_table_ids(inventory, problems)
    hosts = [
        h
        for n in (wanted or names)
        if n in inventory.hosts
        if (h := _build_host(inventory, n, problems)) is not None
    ]
    if problems:
        raise ValidationError(sorted(set(problems), key=problems.index))
    return hosts


class Reader:
    """Walks one host's merged mapping, reporting problems at their origin."""

    __slots__ = ("layered", "problems")

    def __init__(self, layered: Layered, problems: list[Problem]) -> None:
        self.layered = layered
        self.problems = problems

    def fail(self, keys: Key, message: str) -> None:
        """Record a problem at a key path."""
        file, path = self.layered.locate(keys)
        self.problems.append(Problem(file, path, message))

    def mapping(self, keys: Key, data: Any, known: Iterable[str]) -> dict[str, Any]:
        """Require a table; report unknown keys; return it (empty when it is not a table)."""
        if not isinstance(data, dict):
            self.fail(keys, f"expected a table, got {v._type_name(data)} {data!r}")
            return {}
        known = tuple(known)
        for key in data:
            if key not in known:
                self.fail((*keys, key), unknown_key_message(key, known))
        return data

    def items(self, keys: Key, data: Any) -> list[tuple[Key, Any]]:
        """Require a list; return (path, item) pairs."""
        if not isinstance(data, list):
            self.fail(keys, f"expected a list, got {v._type_name(data)} {data!r}")
            return []
        return [((*keys, i), item) for i, item in enumerate(data)]

    def table(self, keys: Key, data: Any) -> dict[str, Any]:
        """Require a table with free-form keys (sysctl, tables, extra)."""
        return (
            self.mapping(keys, data, data)
            if isinstance(data, dict)
            else self.mapping(keys, data, ())
        )

    def parse(self, keys: Key, value: Any, parse: Callable[..., T], *args: Any) -> T | None:
        """Parse one value; None when bad (and reported at keys)."""
        try:
            return parse(value, *args)
        except v.BadValue as exc:
            self.fail(keys, str(exc))
            return None

    def get(
        self, keys: Key, data: dict[str, Any], key: str, parse: Callable[..., T], *args: Any
    ) -> T | None:
        """Parse data[key] when present; None when absent or bad (bad is reported)."""
        if key not in data:
            return None
        return self.parse((*keys, key), data[key], parse, *args)


def _build_host(inventory: Inventory, name: str, problems: list[Problem]) -> Host | None:
    section = inventory.hosts[name]
    start = len(problems)
    layered = merge_sections(_layers(inventory, name, section, problems), problems)
    r = Reader(layered, problems)
    layered.origins.setdefault((), section.origin)
    try:
        v.parse_hostname(name)
    except v.BadValue as exc:
        problems.append(Problem(section.origin.file, format_path(("hosts", name)), str(exc)))
        return None
    data = r.mapping((), layered.data, HOST_KEYS)
    host = _read_host(r, name, section.origin.file, data)
    if len(problems) == start:
        _cross_check(r, host)
    if len(problems) == start and host.expect:
        _check_expect(r, host)
    return host if len(problems) == start else None


def _layers(inv: Inventory, name: str, host: Section, problems: list[Problem]) -> list[Section]:
    groups = host.data.get("groups", [])
    layers = list(inv.defaults)
    if not isinstance(groups, list):
        return [*layers, host]
    for index, group in enumerate(groups):
        if isinstance(group, str) and group in inv.groups:
            layers.append(_strip_groups(inv.groups[group], problems))
            continue
        near = closest(str(group), inv.groups) if isinstance(group, str) else None
        hint = f"; did you mean {near!r}?" if near else ""
        problems.append(
            Problem(
                host.origin.file,
                f"hosts.{name}.groups[{index}]",
                f"no group {group!r} in the inventory{hint}",
            )
        )
    return [*layers, host]


def _strip_groups(section: Section, problems: list[Problem]) -> Section:
    if "groups" in section.data:
        file = section.origin.file
        path = ".".join(str(k) for k in section.origin.keys)
        problems.append(Problem(file, f"{path}.groups", "groups cannot include other groups"))
    return section


def _read_host(r: Reader, name: str, file: str, data: dict[str, Any]) -> Host:
    if "groups" in data:
        r.items(("groups",), data["groups"])
    ifaces_raw = r.table(("interfaces",), data.get("interfaces", {}))
    interfaces = []
    for device in sorted(ifaces_raw, key=device_sort_key):
        iface = _read_interface(r, ("interfaces", device), device, ifaces_raw[device])
        if iface is not None:
            interfaces.append(iface)
    interfaces = attach_slaves(r, interfaces)
    tables = _read_tables(r, data.get("tables", {}))
    return Host(
        name=name,
        file=file,
        interfaces=tuple(interfaces),
        loopback=tuple(_read_aliases(r, ("loopback",), data.get("loopback", []))),
        gateway=r.get((), data, "gateway", v.parse_address),
        tables=tables,
        sysctls=tuple(_read_sysctls(r, data.get("sysctl", {}))),
        hostname=r.get((), data, "hostname", _parse_fqdn),
        nozeroconf=r.get((), data, "nozeroconf", v.parse_bool),
        roles=read_roles(r, data),
        expect=_read_expect(r, data),
    )


def _read_expect(r: Reader, data: dict[str, Any]) -> tuple[Expect, ...]:
    if "expect" not in data:
        return ()
    from ifgen.expect import read_expectations

    return read_expectations(r, data)


def _check_expect(r: Reader, host: Host) -> None:
    from ifgen.expect import check_expectations

    check_expectations(r, host)


def _parse_fqdn(value: Any) -> str:
    return v.parse_hostname(v.want_str(value, "a host name"))


def _read_interface(r: Reader, keys: Key, device: str, raw: Any) -> Interface | None:
    if device == "lo":
        r.fail(keys, "do not declare 'lo' as an interface; put loopback VIPs in 'loopback'")
        return None
    try:
        v.parse_device(device)
    except v.BadValue as exc:
        r.fail(keys, str(exc))
        return None
    data = r.mapping(keys, raw, IFACE_KEYS)
    bootproto, address = _read_address(r, keys, data)
    return Interface(
        device=device,
        bootproto=bootproto,
        address=address,
        hwaddr=r.get(keys, data, "hwaddr", v.parse_mac),
        mtu=r.get(keys, data, "mtu", v.parse_int, 68, 65535),
        onboot=_flag(r, keys, data, "onboot", True),
        nm_controlled=_flag(r, keys, data, "nm_controlled", False),
        arpcheck=r.get(keys, data, "arpcheck", v.parse_bool),
        arpupdate=r.get(keys, data, "arpupdate", v.parse_bool),
        defroute=r.get(keys, data, "defroute", v.parse_bool),
        gateway=r.get(keys, data, "gateway", v.parse_address),
        aliases=tuple(_read_aliases(r, (*keys, "aliases"), data.get("aliases", []))),
        routes=tuple(_read_routes(r, (*keys, "routes"), device, data.get("routes", []))),
        rules=tuple(_read_rules(r, (*keys, "rules"), device, data.get("rules", []))),
        extra=tuple(
            _read_extra(r, (*keys, "extra"), data.get("extra", {}), "prefer_source" in data)
        ),
        prefer_source=r.get(keys, data, "prefer_source", _parse_prefer_source),
        source_metric=r.get(keys, data, "source_metric", v.parse_int, 0, 2**32 - 1),
        fallback_metric=r.get(keys, data, "fallback_metric", v.parse_int, 0, 2**32 - 1),
        policies=tuple(_read_policies(r, (*keys, "policy"), device, data.get("policy", []))),
        rp_filter=r.get(keys, data, "rp_filter", v.parse_int, 0, 2),
        **read_link_keys(r, keys, device, data),
    )


def _parse_prefer_source(value: Any) -> IPv4Address:
    if isinstance(value, list) and len(value) > 1:
        raise v.BadValue(
            f"two preferred sources {value!r} on one device: the split routes and the "
            "default can carry only one 'src'; pick one address (the others stay plain aliases)"
        )
    reject_ipv6_source(value)
    return v.parse_address(value)


def _flag(r: Reader, keys: Key, data: dict[str, Any], key: str, default: bool) -> bool:
    value = r.get(keys, data, key, v.parse_bool)
    return default if value is None else value


def _read_address(r: Reader, keys: Key, data: dict[str, Any]) -> tuple[Any, IPv4Interface | None]:
    raw = data.get("address")
    if raw is None:
        return "none", None
    if raw == "dhcp":
        return "dhcp", None
    address = r.get(keys, data, "address", _parse_primary)
    return "static", address


def _parse_primary(value: Any) -> IPv4Interface:
    if isinstance(value, str) and "/" not in value and v.is_ip(value):
        raise v.BadValue(
            f"{value!r} has no prefix; expected an address in CIDR form like "
            f"'{value}/24', or 'dhcp'"
        )
    return v.parse_interface(value)


def _read_aliases(r: Reader, keys: Key, raw: Any) -> list[Alias]:
    found = []
    for at, item in r.items(keys, raw):
        if isinstance(item, str):
            address = r.parse(at, item, parse_alias_address)
            if address is not None:
                found.append(Alias(address))
            continue
        data = r.mapping(at, item, ALIAS_KEYS)
        if "address" not in data:
            if isinstance(item, dict):
                r.fail(at, "an alias needs 'address' (CIDR form)")
            continue
        address = r.get(at, data, "address", parse_alias_address)
        if address is None:
            continue
        found.append(
            Alias(
                address=address,
                number=r.get(at, data, "index", v.parse_int, 0, 9999),
                broadcast=r.get(at, data, "broadcast", v.parse_address),
                arpcheck=r.get(at, data, "arpcheck", v.parse_bool),
                arpupdate=r.get(at, data, "arpupdate", v.parse_bool),
            )
        )
    return found


def _parse_destination(value: Any) -> IPv4Network | None:
    if value == "default":
        return None
    if isinstance(value, str) and "/" not in value and v.is_ip(value):
        return IPv4Network(value)
    return v.parse_network(value)


def _parse_table_ref(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(v.parse_int(value, 1, 2**31 - 1))
    text = v.want_str(value, "a table name or number")
    if text in ("local", "default", "unspec"):
        raise v.BadValue(f"table {text!r} is reserved; use 'main' or a table of your own")
    if text != "main":
        v.parse_table_name(text)
    return text


def _read_routes(r: Reader, keys: Key, device: str, raw: Any) -> list[Route]:
    found = []
    for at, item in r.items(keys, raw):
        data = r.mapping(at, item, ROUTE_KEYS)
        if "to" not in data:
            if isinstance(item, dict):
                r.fail(at, "a route needs 'to' ('default' or a CIDR network)")
            continue
        dev = r.get(at, data, "dev", _parse_dev_ref)
        found.append(
            Route(
                to=r.get(at, data, "to", _parse_destination),
                dev=dev or device,
                via=r.get(at, data, "via", v.parse_address),
                src=r.get(at, data, "src", v.parse_address),
                metric=r.get(at, data, "metric", v.parse_int, 0, 2**32 - 1),
                table=r.get(at, data, "table", _parse_table_ref),
                scope=r.get(at, data, "scope", v.parse_scope),
                proto=r.get(at, data, "proto", v.parse_proto),
                nexthops=tuple(
                    _read_nexthops(r, (*at, "nexthops"), device, data.get("nexthops", []))
                ),
            )
        )
    return found


def _parse_dev_ref(value: Any) -> str:
    return v.parse_device(v.want_str(value, "a device name"))


def _read_nexthops(r: Reader, keys: Key, device: str, raw: Any) -> list[NextHop]:
    found = []
    for at, item in r.items(keys, raw):
        data = r.mapping(at, item, NEXTHOP_KEYS)
        via = r.get(at, data, "via", v.parse_address)
        if via is None:
            if isinstance(item, dict) and "via" not in data:
                r.fail(at, "a next hop needs 'via'")
            continue
        dev = r.get(at, data, "dev", _parse_dev_ref) or device
        weight = r.get(at, data, "weight", v.parse_int, 1, 256) or 1
        found.append(NextHop(via, dev, weight))
    return found


def _read_rules(r: Reader, keys: Key, device: str, raw: Any) -> list[Rule]:
    found = []
    for at, item in r.items(keys, raw):
        data = r.mapping(at, item, RULE_KEYS)
        if "table" not in data:
            if isinstance(item, dict):
                r.fail(at, "a rule needs 'table'")
            continue
        table = r.get(at, data, "table", _parse_table_ref)
        if table is None:
            continue
        found.append(
            Rule(
                dev=device,
                table=table,
                from_=r.get(at, data, "from", _parse_destination_strict),
                to=r.get(at, data, "to", _parse_destination_strict),
                iif=r.get(at, data, "iif", _parse_iif),
                fwmark=r.get(at, data, "fwmark", v.parse_fwmark),
                priority=r.get(at, data, "priority", v.parse_int, *PRIORITY_RANGE),
            )
        )
    return found


def _read_policies(r: Reader, keys: Key, device: str, raw: Any) -> list[Policy]:
    found = []
    for at, item in r.items(keys, raw):
        data = r.mapping(at, item, POLICY_KEYS)
        missing = [k for k in ("source", "table", "gateway") if k not in data]
        if missing and isinstance(item, dict):
            r.fail(at, f"a policy needs {', '.join(repr(k) for k in missing)}")
        source = r.get(at, data, "source", v.parse_address)
        table = r.get(at, data, "table", _parse_policy_table)
        gateway = r.get(at, data, "gateway", v.parse_address)
        priority = r.get(at, data, "priority", v.parse_int, *PRIORITY_RANGE)
        connected_src = _flag(r, at, data, "connected_src", True)
        if source is None or table is None or gateway is None:
            continue
        found.append(Policy(device, source, table, gateway, priority, connected_src))
    return found


def _parse_policy_table(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(v.parse_table_id(value))
    text = v.want_str(value, "a table name or number")
    if text in v.RESERVED_TABLES:
        raise v.BadValue(
            f"table {text!r} is reserved by iproute2; a policy needs a table of its own "
            "(define one under 'tables')"
        )
    return v.parse_table_name(text)


def _parse_destination_strict(value: Any) -> IPv4Network:
    network = _parse_destination(value)
    if network is None:
        raise v.BadValue("'default' is not valid here; expected an address or a CIDR network")
    return network


def _parse_iif(value: Any) -> str:
    text = v.want_str(value, "a device name")
    return text if text == "lo" else v.parse_device(text)


def _read_extra(
    r: Reader, keys: Key, raw: Any, prefer_source: bool = False
) -> list[tuple[str, str]]:
    data = r.table(keys, raw)
    found = []
    for key in sorted(data):
        at = (*keys, key)
        if not v.IFCFG_KEY_RE.match(key):
            r.fail(at, f"{key!r} is not an ifcfg key (expected upper-case letters, digits and '_')")
            continue
        if key in MANAGED_IFCFG:
            instead = MANAGED_IFCFG[key]
            hint = f"; use {instead!r} instead" if instead else ""
            if key == "GATEWAY" and prefer_source:
                hint += PREFER_SOURCE_GATEWAY
            r.fail(at, f"{key!r} is written by ifgen itself{hint}")
            continue
        value = r.get(keys, data, key, v.parse_ifcfg_value)
        if value is not None:
            found.append((key, value))
    return found


def _read_tables(r: Reader, raw: Any) -> tuple[Table, ...]:
    data = r.table(("tables",), raw)
    found: list[Table] = []
    by_id: dict[int, str] = {}
    for name in sorted(data):
        at: Key = ("tables", name)
        try:
            v.parse_table_name(name)
        except v.BadValue as exc:
            r.fail(at, str(exc))
            continue
        number = r.get(("tables",), data, name, v.parse_table_id)
        if number is None:
            continue
        if number in by_id:
            r.fail(at, f"table id {number} is already used by table {by_id[number]!r}")
            continue
        by_id[number] = name
        found.append(Table(name, number))
    return tuple(found)


def _check_table_ids(inventory: Inventory, problems: list[Problem]) -> None:
    """One name, one id across the whole inventory: rt_tables must agree on every host."""
    by_name: dict[str, tuple[int, Section, str]] = {}
    by_id: dict[int, tuple[str, Section, str]] = {}
    sections = [*inventory.defaults, *inventory.groups.values(), *inventory.hosts.values()]
    for section in sections:
        tables = section.data.get("tables")
        for name, number in sorted(tables.items()) if isinstance(tables, dict) else ():
            if not isinstance(number, int) or isinstance(number, bool):
                continue  # a bad id is reported where the host reads it
            where = format_path((*section.origin.keys, "tables", name))
            here = f"{where} in {section.origin.file}"
            old_id, _, old_place = by_name.setdefault(name, (number, section, here))
            old_name, old_section, id_place = by_id.setdefault(number, (name, section, here))
            if old_id != number:
                message = f"table {name!r} has id {number} here but {old_id} at {old_place}"
            elif old_name != name and old_section is not section:
                message = f"table id {number} is named {name!r} here but {old_name!r} at {id_place}"
            else:
                continue
            message += "; rt_tables must agree on every host"
            problems.append(Problem(section.origin.file, where, message))


def _read_sysctls(r: Reader, raw: Any) -> list[Sysctl]:
    data = r.table(("sysctl",), raw)
    found = []
    for key in sorted(data):
        if not v.SYSCTL_KEY_RE.match(key):
            r.fail(
                ("sysctl", key),
                f"{key!r} is not a sysctl key (expected dotted words like 'net.ipv4.ip_forward')",
            )
            continue
        value = r.get(("sysctl",), data, key, v.parse_sysctl_value)
        if value is not None:
            found.append(Sysctl(key, value, _origin_of(r, ("sysctl", key))))
    return found


def _origin_of(r: Reader, keys: Key) -> str:
    """Say which section set a value: `groups.app.sysctl in site.toml`."""
    origin = r.layered.origins.get(keys)
    if origin is None:
        return "inventory"
    return f"{format_path(origin.keys[:-1])} in {origin.file}"


def _cross_check(r: Reader, host: Host) -> None:
    from ifgen.crosscheck import check_host

    check_host(r, host)
