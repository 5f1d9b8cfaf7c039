"""The preferred-source intent: split routes and two defaults that make a VIP the source."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import TYPE_CHECKING

from ifgen.model import Host, Interface, Route

if TYPE_CHECKING:
    from ifgen.inventory import Key
    from ifgen.plan import Draft
    from ifgen.validate import Reader

# Among default routes the lowest metric wins; nothing goes below 0, which is what a GATEWAY
# default gets (initscripts-facts §9). The VIP default must win, the primary's is the fallback.
SOURCE_METRIC = 1
FALLBACK_METRIC = 100
# A /31 or /32 has no two halves to cover it with.
LONGEST_SPLITTABLE = 30


def source_metric(iface: Interface) -> int:
    """The metric of the VIP-sourced routes (the inventory's, else 1)."""
    return SOURCE_METRIC if iface.source_metric is None else iface.source_metric


def fallback_metric(iface: Interface) -> int:
    """The metric of the primary-sourced fallback default (the inventory's, else 100)."""
    return FALLBACK_METRIC if iface.fallback_metric is None else iface.fallback_metric


def source_address(iface: Interface) -> IPv4Interface | None:
    """The address (with its prefix) of the device that the preferred source names."""
    for address in iface.addresses():
        if address.ip == iface.prefer_source:
            return address
    return None


def halves(network: IPv4Network) -> tuple[IPv4Network, IPv4Network]:
    """The two /N+1 networks that together cover a /N."""
    low, high = network.subnets(prefixlen_diff=1)
    return low, high


def plan_source(draft: Draft) -> None:
    """Expand every interface's `prefer_source` into route-DEV lines; drop its GATEWAY."""
    for iface in draft.host.interfaces:
        vip = source_address(iface)
        if vip is None or vip == iface.address:
            # The primary is already the source of the kernel's prefix route and of GATEWAY.
            continue
        # GATEWAY would install a metric-0 default without src that beats the VIP default;
        # ifup-aliases installs it for every alias even with DEFROUTE=no (initscripts-facts §4, §9).
        gateway = draft.gateways.pop(iface.device, None)
        if iface.defroute is False:
            gateway = None
        routes = source_routes(iface, vip, None if gateway is None else IPv4Address(gateway))
        draft.routes[iface.device] = routes + draft.routes.get(iface.device, [])


def source_routes(iface: Interface, vip: IPv4Interface, gateway: IPv4Address | None) -> list[Route]:
    """The lines of scenario 1, in its order: fallback default, the two halves, VIP default."""
    dev, metric = iface.device, source_metric(iface)
    split = [
        Route(to=half, dev=dev, proto="kernel", scope="link", src=vip.ip, metric=metric)
        for half in halves(vip.network)
    ]
    if gateway is None or iface.address is None:
        return split
    fallback = Route(
        to=None, dev=dev, via=gateway, src=iface.address.ip, metric=fallback_metric(iface)
    )
    preferred = Route(to=None, dev=dev, via=gateway, src=vip.ip, metric=metric)
    return [fallback, *split, preferred]


def check_prefer_source(r: Reader, host: Host) -> None:
    """Report preferred sources that cannot work or that something else would defeat."""
    for iface in host.interfaces:
        at: Key = ("interfaces", iface.device)
        if iface.prefer_source is None:
            for key in ("source_metric", "fallback_metric"):
                if getattr(iface, key) is not None:
                    r.fail((*at, key), f"{key!r} only applies together with 'prefer_source'")
            continue
        vip = source_address(iface)
        if vip is None:
            r.fail((*at, "prefer_source"), _not_on_device(host, iface))
            continue
        _check_metrics(r, at, iface)
        if vip == iface.address:
            continue
        if vip.network.prefixlen > LONGEST_SPLITTABLE:
            r.fail((*at, "prefer_source"), _unsplittable(iface, vip))
            continue
        if _has_default(host, iface):
            _check_defeating_defaults(r, host, iface, vip)


def _not_on_device(host: Host, iface: Interface) -> str:
    src = str(iface.prefer_source)
    held = ", ".join(str(a) for a in iface.addresses()) or "no static address"
    elsewhere = [
        i.device for i in host.interfaces if any(a.ip == iface.prefer_source for a in i.addresses())
    ]
    hint = f" (it is on {elsewhere[0]}; set prefer_source there)" if elsewhere else ""
    return (
        f"{src!r} is not an address of {iface.device}{hint}; expected its primary address or "
        f"one of its aliases ({iface.device} has {held})"
    )


def _unsplittable(iface: Interface, vip: IPv4Interface) -> str:
    primary = iface.address
    if primary is not None and primary.network.prefixlen <= LONGEST_SPLITTABLE:
        prefix = primary.network.prefixlen
        fix = f"give the alias the prefix of its subnet (/{prefix}, as the primary)"
    else:
        fix = f"a preferred source needs a subnet of /{LONGEST_SPLITTABLE} or wider"
    return (
        f"{str(vip)!r} is a /{vip.network.prefixlen}, which cannot be split into two halves "
        f"that beat the kernel's prefix route; {fix}"
    )


def _check_metrics(r: Reader, at: Key, iface: Interface) -> None:
    low, high = source_metric(iface), fallback_metric(iface)
    if low >= high:
        key = "source_metric" if iface.source_metric is not None else "fallback_metric"
        r.fail(
            (*at, key),
            f"source_metric {low} must be below fallback_metric {high}; among defaults the "
            "lowest metric wins, so the primary address would be used",
        )


def _has_default(host: Host, iface: Interface) -> bool:
    from ifgen.crosscheck import gateway_device

    if iface.defroute is False:
        return False
    return iface.gateway is not None or gateway_device(host) is iface


def _check_defeating_defaults(r: Reader, host: Host, iface: Interface, vip: IPv4Interface) -> None:
    metric = source_metric(iface)
    for other in host.interfaces:
        for index, route in enumerate(other.routes):
            if route.to is not None or route.table not in (None, "main"):
                continue
            if route.src == vip.ip or (route.metric or 0) > metric:
                continue
            r.fail(
                ("interfaces", other.device, "routes", index),
                f"this main-table default (metric {route.metric or 0}) would defeat "
                f"prefer_source {str(vip.ip)!r} on {iface.device}: among defaults the lowest "
                f"metric wins and it has no 'src {vip.ip}', so connections would leave from "
                f"another address; give it a metric above {metric}, a 'table', or leave the "
                f"default to prefer_source (it writes both defaults into route-{iface.device})",
            )
