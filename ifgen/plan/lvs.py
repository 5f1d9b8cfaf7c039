"""LVS roles → primitives: the director's VIP aliases, real servers' loopback VIPs and sysctls."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface
from typing import TYPE_CHECKING

from ifgen.model import Alias, Host, Interface, LvsRole, Policy, RoleName, Sysctl
from ifgen.numbering import free_numbers

if TYPE_CHECKING:
    from ifgen.plan import Draft

# LVS write-ups and keepalived setups name the first VIP `eth1:0` / `lo:0`, so role VIPs
# take the lowest free index from 0 on both, after the indices the inventory pins.
FIRST_VIP_INDEX = 0
# arp_ignore 1: answer ARP only for addresses on the receiving interface (not the VIP on lo);
# arp_announce 2: never use the VIP as the ARP source. The kernel takes the maximum of `all`
# and the device, so `all` covers eth1; `lo` is set too, as every LVS-DR guide does.
ROLE_SYSCTLS: dict[RoleName, tuple[tuple[str, str], ...]] = {
    "lvs-dr-director": (("net.ipv4.ip_forward", "1"),),
    "lvs-dr-realserver": (
        ("net.ipv4.conf.all.arp_ignore", "1"),
        ("net.ipv4.conf.lo.arp_ignore", "1"),
        ("net.ipv4.conf.all.arp_announce", "2"),
        ("net.ipv4.conf.lo.arp_announce", "2"),
    ),
    "lvs-nat-realserver": (),
}


def plan_lvs(draft: Draft) -> None:
    """Add each role's VIP aliases to the host and its sysctls to the draft."""
    host = draft.host
    if not host.roles:
        return
    draft.host = with_nat_policies(with_vips(host))
    draft.sysctls.extend(role_sysctls(host.roles))


def role_sysctls(roles: tuple[LvsRole, ...]) -> list[Sysctl]:
    """The sysctls the roles need, each naming the role and services that asked for it."""
    services: dict[tuple[str, str, str], list[str]] = {}
    for role in roles:
        for key, value in ROLE_SYSCTLS[role.role]:
            services.setdefault((key, value, role.role), []).append(role.service)
    found = []
    for (key, value, role_name), names in services.items():
        label = "service" if len(names) == 1 else "services"
        found.append(Sysctl(key, value, f"role {role_name} ({label} {', '.join(sorted(names))})"))
    return found


def with_vips(host: Host) -> Host:
    """The host with every DR VIP added: an alias of the service interface or of lo."""
    added: dict[str, list[Alias]] = {}
    for role in host.roles:
        device = _vip_device(role)
        if device is None:
            continue
        for vip in role.vips:
            broadcast = vip.address if device != "lo" else None
            address = IPv4Interface(f"{vip.address}/32")
            added.setdefault(device, []).append(Alias(address, vip.number, broadcast))
    numbered = {dev: _number(dev, host, aliases) for dev, aliases in added.items()}
    interfaces = tuple(
        i._replace(aliases=i.aliases + numbered.get(i.device, ())) for i in host.interfaces
    )
    return host._replace(interfaces=interfaces, loopback=host.loopback + numbered.get("lo", ()))


def nat_source(iface: Interface, role: LvsRole) -> IPv4Address | None:
    """The address of the interface in the director's internal subnet (None: off-link)."""
    for address in iface.addresses():
        if role.gateway is not None and role.gateway in address.network:
            return address.ip
    return None


def with_nat_policies(host: Host) -> Host:
    """The host with a policy per NAT role: replies from its address go back via the director."""
    added: dict[str, list[Policy]] = {}
    for role in host.roles:
        iface = host.interface(role.interface)
        if role.role != "lvs-nat-realserver" or iface is None:
            continue
        source = nat_source(iface, role)
        if source is None or role.gateway is None or role.table is None:
            continue  # validation reports these
        policy = Policy(iface.device, source, role.table, role.gateway, role.priority)
        added.setdefault(iface.device, []).append(policy)
    interfaces = tuple(
        i._replace(policies=i.policies + tuple(added.get(i.device, ()))) for i in host.interfaces
    )
    return host._replace(interfaces=interfaces)


def _vip_device(role: LvsRole) -> str | None:
    if role.role == "lvs-dr-director":
        return role.interface
    if role.role == "lvs-dr-realserver":
        return "lo"
    return None


def _number(device: str, host: Host, aliases: list[Alias]) -> tuple[Alias, ...]:
    iface = host.interface(device)
    existing = host.loopback if device == "lo" else (iface.aliases if iface else ())
    taken = {a.number for a in (*existing, *aliases) if a.number is not None}
    numbers = free_numbers(taken, FIRST_VIP_INDEX)
    out = []
    for alias in aliases:
        if alias.number is None:
            alias = alias._replace(number=next(numbers))
        out.append(alias)
    return tuple(out)
