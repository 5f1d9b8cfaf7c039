"""Read LVS services and roles from a host's mapping and check them against the host."""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import TYPE_CHECKING, Any

from ifgen import values as v
from ifgen.model import Host, LvsRole, RoleName, Vip
from ifgen.suggest import closest

if TYPE_CHECKING:
    from ifgen.inventory import Key
    from ifgen.validate import Reader

ROLES: tuple[RoleName, ...] = ("lvs-dr-director", "lvs-dr-realserver", "lvs-nat-realserver")
SERVICE_KEYS = ("vips", "interface", "gateway", "table", "priority")
# What each role needs from its service besides `interface`.
NEEDS: dict[RoleName, tuple[str, ...]] = {
    "lvs-dr-director": ("vips",),
    "lvs-dr-realserver": ("vips",),
    "lvs-nat-realserver": ("gateway", "table"),
}
VIP_KEYS = ("address", "index")


def read_roles(r: Reader, data: dict[str, Any]) -> tuple[LvsRole, ...]:
    """The host's `roles = {SERVICE = ROLE}`, each joined with its `services.SERVICE`."""
    services_raw = r.table(("services",), data.get("services", {}))
    services = {name: _read_service(r, name, body) for name, body in services_raw.items()}
    found = []
    roles_raw = r.table(("roles",), data.get("roles", {}))
    for service in sorted(roles_raw):
        role = _read_role(r, service, roles_raw[service], services)
        if role is not None:
            found.append(role)
    return tuple(found)


def _read_service(r: Reader, name: str, raw: Any) -> dict[str, Any] | None:
    keys: Key = ("services", name)
    data = r.mapping(keys, raw, SERVICE_KEYS)
    if "interface" not in data:
        if isinstance(raw, dict):
            r.fail(keys, "a service needs 'interface' (the device its traffic uses)")
        return None
    listed = r.items((*keys, "vips"), data.get("vips", []))
    if data.get("vips") == []:
        r.fail((*keys, "vips"), "an empty list; give the service's VIPs or leave 'vips' out")
    return {
        "vips": tuple(vip for at, item in listed if (vip := _vip(r, at, item)) is not None),
        "interface": r.get(keys, data, "interface", _parse_device),
        "gateway": r.get(keys, data, "gateway", v.parse_address),
        "table": r.get(keys, data, "table", _parse_table),
        "priority": r.get(keys, data, "priority", v.parse_int, 1, 32765),
        "given": tuple(data),
    }


def _parse_table(value: Any) -> str:
    return v.parse_table_name(v.want_str(value, "a table name"))


def _parse_device(value: Any) -> str:
    return v.parse_device(v.want_str(value, "a device name"))


def _vip(r: Reader, at: Key, item: Any) -> Vip | None:
    if not isinstance(item, dict):
        address = r.parse(at, item, _parse_vip)
        return None if address is None else Vip(address)
    data = r.mapping(at, item, VIP_KEYS)
    if "address" not in data:
        r.fail(at, "a VIP needs 'address'")
        return None
    address = r.get(at, data, "address", _parse_vip)
    index = r.get(at, data, "index", v.parse_int, 0, 9999)
    return None if address is None else Vip(address, index)


def _parse_vip(value: Any) -> IPv4Address:
    text = v.want_str(value, "an IPv4 address")
    if "/" not in text:
        return v.parse_address(text)
    address = v.parse_interface(text)
    if address.network.prefixlen != 32:
        raise v.BadValue(
            f"{text!r} is wider than /32: on a real server's lo the kernel makes all of "
            f"{address.network} local, and the host can no longer reach that range; "
            f"write '{address.ip}' or '{address.ip}/32'"
        )
    return address.ip


def _read_role(
    r: Reader, service: str, raw: Any, services: dict[str, dict[str, Any] | None]
) -> LvsRole | None:
    at: Key = ("roles", service)
    role = r.parse(at, raw, _parse_role)
    if service not in services:
        near = closest(service, services)
        hint = f"did you mean {near!r}?" if near else f"defined: {', '.join(sorted(services))}"
        r.fail(at, f"no service {service!r} under 'services'; {hint if services else 'none'}")
        return None
    body = services[service]
    if role is None or body is None or body["interface"] is None:
        return None
    missing = [key for key in NEEDS[role] if key not in body["given"]]
    if missing:
        wanted = " and ".join(repr(k) for k in missing)
        r.fail(at, f"role {role} needs {wanted} in services.{service}")
        return None
    fields = (body["gateway"], body["table"], body["priority"])
    return LvsRole(role, service, body["interface"], body["vips"], *fields)


def _parse_role(value: Any) -> RoleName:
    text = v.want_str(value, "a role name")
    if text not in ROLES:
        near = closest(text, ROLES)
        hint = f"did you mean {near!r}?" if near else f"expected one of: {', '.join(ROLES)}"
        raise v.BadValue(f"unknown role {text!r}; {hint}")
    return text


def check_roles(r: Reader, host: Host) -> None:
    """Report roles that cannot work on this host (missing interface, clashing VIPs)."""
    held: dict[IPv4Address, LvsRole] = {}
    pinned: dict[tuple[str, int], str] = {}
    for role in host.roles:
        at: Key = ("roles", role.service)
        if host.interface(role.interface) is None:
            devices = ", ".join(i.device for i in host.interfaces) or "none"
            r.fail(
                at,
                f"role {role.role} needs interface {role.interface!r} of service "
                f"{role.service!r}, which this host does not declare (interfaces: {devices})",
            )
            continue
        if role.role == "lvs-nat-realserver":
            _check_nat(r, host, at, role)
            continue
        for vip in role.vips:
            _check_vip(r, host, at, role, vip, held)
            _check_index(r, host, at, role, vip, pinned)
    _check_sysctls(r, host)


def _check_vip(
    r: Reader, host: Host, at: Key, role: LvsRole, vip: Vip, held: dict[IPv4Address, LvsRole]
) -> None:
    address = vip.address
    holder = _holder(host, address)
    if holder is not None and role.role == "lvs-dr-realserver":
        r.fail(
            at,
            f"VIP {str(address)!r} of service {role.service!r} is also an address of "
            f"{holder}; a real server holds the VIP only on lo (the role adds it there), "
            "elsewhere it answers ARP for the VIP and takes the director's traffic",
        )
    elif holder is not None:
        r.fail(
            at,
            f"VIP {str(address)!r} of service {role.service!r} is also an address of "
            f"{holder}; the role adds it itself as an alias of {role.interface}",
        )
    other = held.get(address)
    if (
        other is not None
        and other.role != role.role
        and "lvs-dr-director" in (other.role, role.role)
    ):
        r.fail(
            at,
            f"VIP {str(address)!r} is both directed ({other.role} of service "
            f"{other.service!r}) and served ({role.role} of service {role.service!r}) by this "
            "host; a director and a real server of one VIP must be different hosts",
        )
    elif other is not None:
        r.fail(
            at,
            f"VIP {str(address)!r} is in services {other.service!r} and {role.service!r} "
            "on this host; list it in one service",
        )
    held[address] = role


def _check_nat(r: Reader, host: Host, at: Key, role: LvsRole) -> None:
    from ifgen.plan.lvs import nat_source

    iface = host.interface(role.interface)
    if iface is not None and nat_source(iface, role) is None:
        nets = ", ".join(str(n) for n in iface.networks()) or "no static address"
        r.fail(
            at,
            f"gateway {str(role.gateway)!r} of service {role.service!r} is not on-link: "
            f"{role.interface} is on {nets}; a NAT real server needs an address in the "
            "director's internal subnet to send replies back through it",
        )
    if all(t.name != role.table for t in host.tables):
        names = ", ".join(t.name for t in host.tables) or "none"
        r.fail(
            at,
            f"table {role.table!r} of service {role.service!r} is not defined; add it under "
            f"'tables' (defined here: {names})",
        )
    _check_nat_priority(r, host, at, role)


def _check_nat_priority(r: Reader, host: Host, at: Key, role: LvsRole) -> None:
    for iface in host.interfaces:
        taken = [x.priority for x in iface.rules] + [x.priority for x in iface.policies]
        if role.priority is not None and role.priority in taken:
            r.fail(
                at,
                f"priority {role.priority} of service {role.service!r} is already used by a "
                f"rule or policy on {iface.device}; the kernel orders rules by priority alone",
            )


def _holder(host: Host, address: IPv4Address) -> str | None:
    for iface in host.interfaces:
        if address in (a.ip for a in iface.addresses()):
            return iface.device
    if address in (a.address.ip for a in host.loopback):
        return "lo (loopback)"
    return None


def _check_index(
    r: Reader, host: Host, at: Key, role: LvsRole, vip: Vip, pinned: dict[tuple[str, int], str]
) -> None:
    if vip.number is None:
        return
    device = role.interface if role.role == "lvs-dr-director" else "lo"
    iface = host.interface(device)
    aliases = host.loopback if device == "lo" else (iface.aliases if iface else ())
    user = (
        "an alias declared on " + device if any(a.number == vip.number for a in aliases) else None
    )
    holder = user or pinned.get((device, vip.number))
    if holder is not None:
        r.fail(
            at,
            f"VIP {str(vip.address)!r} of service {role.service!r} is pinned to "
            f"{device}:{vip.number}, which {holder} already uses",
        )
    pinned[(device, vip.number)] = f"VIP {str(vip.address)!r} of service {role.service!r}"


def _check_sysctls(r: Reader, host: Host) -> None:
    from ifgen.plan.lvs import role_sysctls

    declared = {s.key: s for s in host.sysctls}
    for wanted in role_sysctls(host.roles):
        mine = declared.get(wanted.key)
        if mine is not None and mine.value != wanted.value:
            r.fail(
                ("sysctl", wanted.key),
                f"{mine.value!r} conflicts with {wanted.value!r} set by {wanted.reason}",
            )
