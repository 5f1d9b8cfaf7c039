"""Expand a validated Host into the exact primitives each file will hold (no I/O, no Jinja)."""

from __future__ import annotations

from typing import NamedTuple

from ifgen.model import Alias, Host, Interface, Route, Route6, Rule, Rule6, Sysctl, Table
from ifgen.numbering import free_numbers
from ifgen.plan.links import link_keys, plan_links, routes6, rules6, type_keys
from ifgen.plan.lvs import plan_lvs
from ifgen.plan.policy import plan_policies
from ifgen.plan.source import plan_source

# Auto-numbered aliases: eth0:1, eth0:2, ... (eth0 itself is "0" by tradition); lo:0, lo:1, ...
FIRST_ALIAS_INDEX = 1
FIRST_LOOPBACK_INDEX = 0
# Rules without an explicit priority get the lowest free one from this range, in the order
# devices come up (natural device order), then the order they are listed.
AUTO_PRIORITY_START = 1000
SYSCTL_FILE = "90-ifgen.conf"

Pairs = tuple[tuple[str, str], ...]


class IfcfgFile(NamedTuple):
    """One `ifcfg-NAME` file: NAME is `eth0`, `eth0:1` or `lo:0`; keys in file order."""

    name: str
    keys: Pairs


class HostPlan(NamedTuple):
    """Everything one host's files will say, ready for the templates."""

    host: Host
    ifcfgs: tuple[IfcfgFile, ...]
    routes: dict[str, tuple[Route, ...]]
    rules: dict[str, tuple[Rule, ...]]
    tables: tuple[Table, ...]
    sysctls: tuple[Sysctl, ...]
    network: Pairs
    routes6: dict[str, tuple[Route6, ...]]
    rules6: dict[str, tuple[Rule6, ...]]


class Draft:
    """The mutable working state intents add to before it is frozen into a HostPlan."""

    __slots__ = ("host", "gateways", "routes", "rules", "sysctls", "tables", "network")

    def __init__(self, host: Host) -> None:
        self.host = host
        self.gateways: dict[str, str] = {}
        self.routes: dict[str, list[Route]] = {}
        self.rules: dict[str, list[Rule]] = {}
        self.sysctls: list[Sysctl] = []
        self.tables: list[Table] = []
        self.network: dict[str, str] = {}


def plan_host(host: Host) -> HostPlan:
    """Expand one host into its file contents.

    A host with `expect` entries is planned once per process and remembered: validating
    the entries, checking them and rendering all need the same plan. (Hosts are immutable
    records, so an equal host always has an equal plan.)
    """
    if not host.expect:
        return _plan(host)
    plan = _REMEMBERED.get(host)
    if plan is None:
        plan = _REMEMBERED[host] = _plan(host)
    return plan


_REMEMBERED: dict[Host, HostPlan] = {}


def _plan(host: Host) -> HostPlan:
    draft = Draft(host)
    _plan_primitives(draft)
    plan_lvs(draft)
    plan_policies(draft)
    plan_source(draft)
    plan_links(draft)
    return _freeze(draft)


def _plan_primitives(draft: Draft) -> None:
    host = draft.host
    for iface in host.interfaces:
        if iface.gateway is not None:
            draft.gateways[iface.device] = str(iface.gateway)
        draft.routes.setdefault(iface.device, []).extend(iface.routes)
        draft.rules.setdefault(iface.device, []).extend(iface.rules)
    holder = _gateway_holder(host)
    if holder is not None and holder.device not in draft.gateways:
        draft.gateways[holder.device] = str(host.gateway)
    draft.tables.extend(host.tables)
    draft.sysctls.extend(host.sysctls)
    draft.network["NETWORKING"] = "yes"
    if host.hostname:
        draft.network["HOSTNAME"] = host.hostname
    if host.nozeroconf:
        draft.network["NOZEROCONF"] = "yes"


def _gateway_holder(host: Host) -> Interface | None:
    from ifgen.crosscheck import gateway_device

    return gateway_device(host)


def _freeze(draft: Draft) -> HostPlan:
    host = draft.host
    ifcfgs: list[IfcfgFile] = []
    for iface in host.interfaces:
        ifcfgs.append(IfcfgFile(iface.device, ifcfg_keys(iface, draft.gateways.get(iface.device))))
        for index, alias in number_aliases(iface.aliases, FIRST_ALIAS_INDEX):
            ifcfgs.append(
                IfcfgFile(f"{iface.device}:{index}", alias_keys(iface.device, index, alias))
            )
    for index, alias in number_aliases(host.loopback, FIRST_LOOPBACK_INDEX):
        ifcfgs.append(IfcfgFile(f"lo:{index}", alias_keys("lo", index, alias, loopback=True)))
    return HostPlan(
        host=host,
        ifcfgs=tuple(ifcfgs),
        routes={d: tuple(r) for d, r in sorted(draft.routes.items()) if r},
        rules={d: tuple(r) for d, r in assign_priorities(draft.rules).items() if r},
        tables=tuple(sorted(set(draft.tables), key=lambda t: (t.id, t.name))),
        sysctls=tuple(sysctl_lines(host, draft.sysctls)),
        network=tuple(draft.network.items()),
        routes6=routes6(host),
        rules6=rules6(host),
    )


def number_aliases(aliases: tuple[Alias, ...], first: int) -> list[tuple[int, Alias]]:
    """Give each alias its index: explicit ones keep theirs, the rest take the lowest free."""
    taken = {a.number for a in aliases if a.number is not None}
    numbers = free_numbers(taken, first)
    numbered = [(next(numbers) if a.number is None else a.number, a) for a in aliases]
    return sorted(numbered, key=lambda pair: pair[0])


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def ifcfg_keys(iface: Interface, gateway: str | None) -> Pairs:
    """The keys of `ifcfg-DEV`, in the order a sysadmin reads them."""
    keys: list[tuple[str, str]] = [("DEVICE", iface.device), *type_keys(iface)]
    if iface.hwaddr:
        keys.append(("HWADDR", iface.hwaddr))
    keys += [
        ("BOOTPROTO", iface.bootproto),
        ("ONBOOT", _yes(iface.onboot)),
        ("NM_CONTROLLED", _yes(iface.nm_controlled)),
    ]
    if iface.address is not None:
        keys += [
            ("IPADDR", str(iface.address.ip)),
            ("PREFIX", str(iface.address.network.prefixlen)),
        ]
    if gateway is not None:
        keys.append(("GATEWAY", gateway))
    keys += _optional(
        ("DEFROUTE", iface.defroute),
        ("MTU", iface.mtu),
        ("ARPCHECK", iface.arpcheck),
        ("ARPUPDATE", iface.arpupdate),
    )
    return tuple(keys + link_keys(iface) + list(iface.extra))


def _optional(*pairs: tuple[str, bool | int | None]) -> list[tuple[str, str]]:
    out = []
    for key, value in pairs:
        if isinstance(value, bool):
            out.append((key, _yes(value)))
        elif value is not None:
            out.append((key, str(value)))
    return out


def alias_keys(device: str, index: int, alias: Alias, loopback: bool = False) -> Pairs:
    """The keys of `ifcfg-DEV:N`: never GATEWAY, always PREFIX (initscripts-facts §4)."""
    keys = [
        ("DEVICE", f"{device}:{index}"),
        ("IPADDR", str(alias.address.ip)),
        ("PREFIX", str(alias.address.network.prefixlen)),
        ("ONPARENT", "yes"),
    ]
    if alias.broadcast is not None:
        keys.append(("BROADCAST", str(alias.broadcast)))
    # A loopback VIP must never be announced; for lo the ARP probe is skipped anyway.
    arpupdate = False if loopback and alias.arpupdate is None else alias.arpupdate
    keys += _optional(("ARPCHECK", alias.arpcheck), ("ARPUPDATE", arpupdate))
    return tuple(keys)


def assign_priorities(rules: dict[str, list[Rule]]) -> dict[str, tuple[Rule, ...]]:
    """Give every rule an explicit priority so a re-run of ifup cannot stack copies."""
    from ifgen.model import device_sort_key

    taken = {r.priority for rs in rules.values() for r in rs if r.priority is not None}
    numbers = free_numbers(taken, AUTO_PRIORITY_START)
    out: dict[str, tuple[Rule, ...]] = {}
    for device in sorted(rules, key=device_sort_key):
        fixed = []
        for rule in rules[device]:
            if rule.priority is None:
                rule = rule._replace(priority=next(numbers))
            fixed.append(rule)
        out[device] = tuple(fixed)
    return dict(sorted(out.items()))


def sysctl_key(key: str, devices: set[str]) -> str:
    """Write a dotted device name (`eth0.100`) in the `/` form sysctl.d needs."""
    for prefix in ("net.ipv4.conf.", "net.ipv6.conf.", "net.ipv4.neigh.", "net.ipv6.neigh."):
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix) :]
        for device in sorted(devices, key=len, reverse=True):
            if "." in device and rest.startswith(device + "."):
                return prefix + device.replace(".", "/") + rest[len(device) :]
    return key


def sysctl_lines(host: Host, sysctls: list[Sysctl]) -> list[Sysctl]:
    """One value per key, sorted by key, in the form sysctl.d reads."""
    devices = {i.device for i in host.interfaces}
    final: dict[str, Sysctl] = {}
    for item in sysctls:
        key = sysctl_key(item.key, devices)
        final[key] = item._replace(key=key)
    return [final[k] for k in sorted(final)]
