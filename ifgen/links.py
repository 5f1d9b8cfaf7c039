"""Read and check bonds, their slaves, VLAN devices and IPv6 keys of one host."""

from __future__ import annotations

import re
from ipaddress import IPv4Interface, IPv6Address, IPv6Interface, IPv6Network, ip_interface
from typing import TYPE_CHECKING, Any

from ifgen import values as v
from ifgen.model import Bond, Host, Interface, Route6, Rule6, device_sort_key
from ifgen.suggest import closest

if TYPE_CHECKING:
    from ifgen.inventory import Key
    from ifgen.validate import Reader

LINK_KEYS = ("bond", "ipv6_address", "ipv6_secondaries", "ipv6_gateway", "routes6", "rules6")
BOND_KEYS = ("slaves", "mode", "miimon", "primary", "updelay", "downdelay")
ROUTE6_KEYS = ("to", "via", "src", "metric", "table", "proto")
RULE6_KEYS = ("from", "to", "iif", "fwmark", "table", "priority")
# The kernel's bonding modes, by the name sysfs prints and the number it also accepts.
MODES = {
    "balance-rr": 0,
    "active-backup": 1,
    "balance-xor": 2,
    "broadcast": 3,
    "802.3ad": 4,
    "balance-tlb": 5,
    "balance-alb": 6,
}
# The kernel ignores `primary` in the other modes; accepting it there would mislead.
PRIMARY_MODES = ("active-backup", "balance-tlb", "balance-alb")
BOND_RE = re.compile(r"^bond[0-9]+$")
VID_RANGE = (1, 4094)
# Keys a slave may not carry: ifup enslaves it and never adds addresses or routes to it.
SLAVE_FORBIDDEN = (
    ("address", "bootproto"),
    ("gateway", "gateway"),
    ("aliases", "aliases"),
    ("routes", "routes"),
    ("rules", "rules"),
    ("prefer_source", "prefer_source"),
    ("policy", "policies"),
    ("ipv6_address", "ipv6_address"),
    ("ipv6_secondaries", "ipv6_secondaries"),
    ("ipv6_gateway", "ipv6_gateway"),
    ("routes6", "routes6"),
    ("rules6", "rules6"),
)


def read_link_keys(r: Reader, keys: Key, device: str, data: dict[str, Any]) -> dict[str, Any]:
    """The Interface fields for `bond` and the IPv6 keys of one interface mapping."""
    bond = None
    if "bond" in data:
        bond = _read_bond(r, (*keys, "bond"), device, data["bond"])
    return {
        "bond": bond,
        "ipv6_address": r.get(keys, data, "ipv6_address", parse_ipv6_interface),
        "ipv6_secondaries": tuple(
            address
            for at, item in r.items((*keys, "ipv6_secondaries"), data.get("ipv6_secondaries", []))
            if (address := r.parse(at, item, parse_ipv6_interface)) is not None
        ),
        "ipv6_gateway": r.get(keys, data, "ipv6_gateway", parse_ipv6_address),
        "routes6": _read_routes6(r, (*keys, "routes6"), device, data.get("routes6", [])),
        "rules6": _read_rules6(r, (*keys, "rules6"), device, data.get("rules6", [])),
    }


def parse_mode(value: Any) -> str:
    """A bonding mode by name or number, returned as the name."""
    by_number = {number: name for name, number in MODES.items()}
    if isinstance(value, int) and not isinstance(value, bool):
        return by_number[v.parse_int(value, 0, 6)]
    text = v.want_str(value, "a bonding mode name or number")
    if text.isdigit() and int(text) in by_number:
        return by_number[int(text)]
    if text in MODES:
        return text
    near = closest(text, MODES)
    hint = f"did you mean {near!r}? " if near else ""
    known = ", ".join(f"{name} ({number})" for name, number in MODES.items())
    raise v.BadValue(f"unknown bonding mode {text!r}; {hint}expected one of {known}")


def _read_bond(r: Reader, keys: Key, device: str, raw: Any) -> Bond | None:
    data = r.mapping(keys, raw, BOND_KEYS)
    if not BOND_RE.match(device):
        r.fail(keys, f"'bond' belongs on a device named bondN (like 'bond0'), not {device!r}")
        return None
    missing = [k for k in ("slaves", "mode") if k not in data]
    if missing and isinstance(raw, dict):
        r.fail(keys, f"a bond needs {' and '.join(repr(k) for k in missing)}")
    slaves = _read_slaves(r, (*keys, "slaves"), data["slaves"]) if "slaves" in data else ()
    mode = r.get(keys, data, "mode", parse_mode)
    primary = r.get(keys, data, "primary", _parse_device)
    if primary is not None and slaves and primary not in slaves:
        r.fail(
            (*keys, "primary"),
            f"{primary!r} is not a slave of {device}; expected one of {', '.join(slaves)}",
        )
    elif primary is not None and mode is not None and mode not in PRIMARY_MODES:
        r.fail(
            (*keys, "primary"),
            f"'primary' has no effect in mode {mode!r}; the kernel uses it only in "
            f"{', '.join(PRIMARY_MODES)}",
        )
    if mode is None or not slaves:
        return None
    return Bond(
        slaves=slaves,
        mode=mode,
        miimon=r.get(keys, data, "miimon", v.parse_int, 0, 2**31 - 1),
        primary=primary,
        updelay=r.get(keys, data, "updelay", v.parse_int, 0, 2**31 - 1),
        downdelay=r.get(keys, data, "downdelay", v.parse_int, 0, 2**31 - 1),
    )


def _read_slaves(r: Reader, keys: Key, raw: Any) -> tuple[str, ...]:
    found: list[str] = []
    for at, item in r.items(keys, raw):
        device = r.parse(at, item, _parse_device)
        if device is None:
            continue
        if device in found:
            r.fail(at, f"{device!r} is listed twice")
        elif "." in device or BOND_RE.match(device):
            r.fail(at, f"{device!r} cannot be a slave: enslave plain ethernet devices only")
        else:
            found.append(device)
    if raw == []:
        r.fail(keys, "an empty list; a bond needs at least one slave")
    return tuple(found)


def _parse_device(value: Any) -> str:
    return v.parse_device(v.want_str(value, "a device name"))


def parse_ipv6_interface(value: Any) -> IPv6Interface:
    """An IPv6 address with its prefix, e.g. 2001:db8::10/64."""
    text = v.want_str(value, "an IPv6 address with prefix")
    if "/" not in text:
        raise v.BadValue(f"{text!r} has no prefix; expected an IPv6 address like '{text}/64'")
    try:
        return IPv6Interface(text)
    except ValueError:
        raise v.BadValue(
            f"{text!r} is not an IPv6 address with prefix (like 2001:db8::10/64)"
        ) from None


def parse_ipv6_address(value: Any) -> IPv6Address:
    """A bare IPv6 address."""
    text = v.want_str(value, "an IPv6 address")
    try:
        return IPv6Address(text)
    except ValueError:
        raise v.BadValue(f"{text!r} is not an IPv6 address") from None


def _parse_ipv6_network(value: Any) -> IPv6Network:
    return v.strict_network(value, IPv6Network, "an IPv6 network", "like 2001:db8::/32")


def _parse_destination6(value: Any) -> IPv6Network | None:
    return None if value == "default" else _parse_ipv6_network(value)


def parse_alias_address(value: Any) -> IPv4Interface:
    """An alias address; an IPv6 one gets an answer that says where it belongs."""
    try:
        return v.parse_interface(value)
    except v.BadValue:
        if not isinstance(value, str) or not isinstance(_any_interface(value), IPv6Interface):
            raise
    raise v.BadValue(
        f"{value!r} is IPv6: alias files (ifcfg-DEV:N) carry IPv4 only (ifup-aliases "
        "turns IPv6 off for them); put it in the interface's 'ipv6_secondaries'"
    )


def _any_interface(text: str) -> IPv4Interface | IPv6Interface | None:
    try:
        return ip_interface(text)
    except ValueError:
        return None


def reject_ipv6_source(value: Any) -> None:
    """prefer_source is IPv4 only; say why an IPv6 address is refused."""
    if isinstance(value, str) and ":" in value:
        raise v.BadValue(
            f"{value!r} is IPv6: prefer_source is IPv4 only. The kernel honours 'src' on IPv6 "
            "routes, but refuses the line while the address is still tentative (duplicate "
            "address detection), as it may still be when ifup adds route6 lines; write the "
            "/65 split in routes6 yourself if DAD is off on this link"
        )


def _table_ref(value: Any) -> str:
    from ifgen.validate import _parse_table_ref

    return _parse_table_ref(value)


def _read_routes6(r: Reader, keys: Key, device: str, raw: Any) -> tuple[Route6, ...]:
    found = []
    for at, item in r.items(keys, raw):
        data = r.mapping(at, item, ROUTE6_KEYS)
        if "to" not in data:
            if isinstance(item, dict):
                r.fail(at, "a route needs 'to' ('default' or an IPv6 network)")
            continue
        found.append(
            Route6(
                to=r.get(at, data, "to", _parse_destination6),
                dev=device,
                via=r.get(at, data, "via", parse_ipv6_address),
                src=r.get(at, data, "src", parse_ipv6_address),
                metric=r.get(at, data, "metric", v.parse_int, 0, 2**32 - 1),
                table=r.get(at, data, "table", _table_ref),
                proto=r.get(at, data, "proto", v.parse_proto),
            )
        )
    return tuple(found)


def _read_rules6(r: Reader, keys: Key, device: str, raw: Any) -> tuple[Rule6, ...]:
    found = []
    for at, item in r.items(keys, raw):
        data = r.mapping(at, item, RULE6_KEYS)
        table = r.get(at, data, "table", _table_ref)
        if table is None:
            if isinstance(item, dict) and "table" not in data:
                r.fail(at, "a rule needs 'table'")
            continue
        found.append(
            Rule6(
                dev=device,
                table=table,
                from_=r.get(at, data, "from", _parse_ipv6_network),
                to=r.get(at, data, "to", _parse_ipv6_network),
                iif=r.get(at, data, "iif", _parse_device),
                fwmark=r.get(at, data, "fwmark", v.parse_fwmark),
                priority=r.get(at, data, "priority", v.parse_int, 1, 32765),
            )
        )
    return tuple(found)


def attach_slaves(r: Reader, interfaces: list[Interface]) -> list[Interface]:
    """Mark declared slaves with their master and add the undeclared ones."""
    by_device = {i.device: i for i in interfaces}
    owner: dict[str, str] = {}
    for iface in interfaces:
        for index, slave in enumerate(iface.bond.slaves if iface.bond else ()):
            at: Key = ("interfaces", iface.device, "bond", "slaves", index)
            if slave in owner:
                r.fail(at, f"{slave!r} is already a slave of {owner[slave]}")
                continue
            owner[slave] = iface.device
            declared = by_device.get(slave)
            if declared is None:
                by_device[slave] = Interface(device=slave, master=iface.device)
            else:
                _check_slave(r, declared, iface.device)
                by_device[slave] = declared._replace(master=iface.device)
    return sorted(by_device.values(), key=lambda i: device_sort_key(i.device))


def _check_slave(r: Reader, slave: Interface, master: str) -> None:
    for key, field in SLAVE_FORBIDDEN:
        value = getattr(slave, field)
        if value in (None, (), "none"):
            continue
        shown = f" {str(slave.address)!r}" if key == "address" and slave.address else ""
        r.fail(
            ("interfaces", slave.device, key),
            f"{slave.device} is a slave of {master}: a slave carries no {key}{shown} of its "
            f"own; declare it on {master}",
        )


def check_links(r: Reader, host: Host) -> None:
    """Report VLANs without a usable parent, stray bond names and bad IPv6 wiring."""
    for iface in host.interfaces:
        if "." in iface.device:
            _check_vlan(r, host, iface)
        elif BOND_RE.match(iface.device) and iface.bond is None:
            r.fail(
                ("interfaces", iface.device),
                f"{iface.device} is named like a bond but has no 'bond' table (slaves and mode)",
            )
        _check_ipv6(r, host, iface)
    _check_rule6_priorities(r, host)


def _check_vlan(r: Reader, host: Host, iface: Interface) -> None:
    at: Key = ("interfaces", iface.device)
    parent, vid = iface.device.rsplit(".", 1)
    if not VID_RANGE[0] <= int(vid) <= VID_RANGE[1]:
        r.fail(at, f"VLAN id {vid} is out of range; expected {VID_RANGE[0]} to {VID_RANGE[1]}")
    found = host.interface(parent)
    if found is None:
        r.fail(
            at,
            f"VLAN {iface.device} needs its parent {parent!r} declared under 'interfaces' "
            "(an ethernet or bond device)",
        )
    elif found.master is not None:
        r.fail(at, f"{parent!r} is a slave of {found.master}; put the VLAN on {found.master}")


def _ipv6_networks(iface: Interface) -> list[IPv6Network]:
    primary = [iface.ipv6_address] if iface.ipv6_address else []
    return [a.network for a in (*primary, *iface.ipv6_secondaries)]


def ipv6_on_link(iface: Interface, address: IPv6Address) -> bool:
    """True for a link-local address or one inside the device's IPv6 subnets."""
    return address.is_link_local or any(address in net for net in _ipv6_networks(iface))


def _describe6(iface: Interface) -> str:
    nets = ", ".join(str(n) for n in _ipv6_networks(iface))
    return f"{iface.device} is on {nets}" if nets else f"{iface.device} has no IPv6 address"


def _check_ipv6(r: Reader, host: Host, iface: Interface) -> None:
    keys: Key = ("interfaces", iface.device)
    if iface.ipv6_address is None and (iface.ipv6_secondaries or iface.ipv6_gateway):
        r.fail(
            (*keys, "ipv6_address"),
            "missing: ipv6_secondaries and ipv6_gateway need a primary ipv6_address",
        )
    gateway = iface.ipv6_gateway
    if gateway is not None and iface.ipv6_address and not ipv6_on_link(iface, gateway):
        r.fail(
            (*keys, "ipv6_gateway"),
            f"gateway {str(gateway)!r} is not on-link: {_describe6(iface)} "
            "(or give a link-local fe80:: address)",
        )
    mine = {a.ip for i in host.interfaces for a in _ipv6_addresses(i)}
    for index, route in enumerate(iface.routes6):
        at: Key = (*keys, "routes6", index)
        if route.via is not None and not ipv6_on_link(iface, route.via):
            r.fail((*at, "via"), f"next hop {str(route.via)!r} is not on-link: {_describe6(iface)}")
        if route.src is not None and route.src not in mine:
            r.fail((*at, "src"), f"{str(route.src)!r} is not an IPv6 address of this host")
        _check_table(r, host, (*at, "table"), route.table)
    for index, rule in enumerate(iface.rules6):
        _check_table(r, host, (*keys, "rules6", index, "table"), rule.table)


def _ipv6_addresses(iface: Interface) -> tuple[IPv6Interface, ...]:
    primary = (iface.ipv6_address,) if iface.ipv6_address else ()
    return primary + iface.ipv6_secondaries


def _check_table(r: Reader, host: Host, at: Key, table: str | None) -> None:
    if table is None or table == "main" or table.isdigit():
        return
    if not any(t.name == table for t in host.tables):
        names = ", ".join(t.name for t in host.tables) or "none"
        r.fail(at, f"table {table!r} is not defined; add it under 'tables' (defined: {names})")


def _check_rule6_priorities(r: Reader, host: Host) -> None:
    seen: dict[int, str] = {}
    for iface in host.interfaces:
        for index, rule in enumerate(iface.rules6):
            if rule.priority is None:
                continue
            if rule.priority in seen:
                r.fail(
                    ("interfaces", iface.device, "rules6", index, "priority"),
                    f"priority {rule.priority} is used twice (also in rules6 of "
                    f"{seen[rule.priority]})",
                )
            seen.setdefault(rule.priority, iface.device)
