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
SERVICE_KEYS = ("vips", "interface", "gateway")
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
    if "vips" not in data or "interface" not in data:
        if isinstance(raw, dict):
            r.fail(keys, "a service needs 'vips' (a list of addresses) and 'interface'")
        return None
    vips = [
        vip for at, item in r.items((*keys, "vips"), data["vips"]) if (vip := _vip(r, at, item))
    ]
    if data["vips"] == []:
        r.fail((*keys, "vips"), "a service needs at least one VIP")
    return {
        "vips": tuple(vips),
        "interface": r.get(keys, data, "interface", _parse_device),
        "gateway": r.get(keys, data, "gateway", v.parse_address),
    }


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
    return LvsRole(role, service, body["interface"], body["vips"], body["gateway"])


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
    if vip.index is None:
        return
    device = role.interface if role.role == "lvs-dr-director" else "lo"
    iface = host.interface(device)
    aliases = host.loopback if device == "lo" else (iface.aliases if iface else ())
    user = "an alias declared on " + device if any(a.index == vip.index for a in aliases) else None
    holder = user or pinned.get((device, vip.index))
    if holder is not None:
        r.fail(
            at,
            f"VIP {str(vip.address)!r} of service {role.service!r} is pinned to "
            f"{device}:{vip.index}, which {holder} already uses",
        )
    pinned[(device, vip.index)] = f"VIP {str(vip.address)!r} of service {role.service!r}"


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
