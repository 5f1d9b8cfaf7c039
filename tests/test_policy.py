"""Policy intent, multipath placement and rp_filter: what plan makes of them."""

from __future__ import annotations

from pathlib import Path

from helpers import body, render_scripts

from ifgen.model import Host, Interface, NextHop, Route
from ifgen.plan import plan_host
from ifgen.plan.policy import bring_up_order
from ifgen.render import ip_route

TWO_POLICIES = """
[hosts.h1.tables]
isp_a = 10
[hosts.h1.interfaces.eth0]
address = "10.0.0.5/24"
rules = [{ to = "192.0.2.0/24", table = "isp_a" }]
policy = [{ source = "10.0.0.5", table = "isp_a", gateway = "10.0.0.1" }]
[hosts.h1.interfaces.eth1]
address = "10.1.0.5/24"
aliases = ["10.2.0.5/24"]
policy = [{ source = "10.2.0.5", table = 20, gateway = "10.2.0.1", connected_src = false }]
"""


def test_policies_expand_and_take_the_next_free_priority(tmp_path: Path) -> None:
    scripts = render_scripts(tmp_path, TWO_POLICIES)
    assert body(scripts / "rule-eth0") == [
        "to 192.0.2.0/24 table isp_a priority 1000",
        "from 10.0.0.5/32 table isp_a priority 1001",
    ]
    assert body(scripts / "route-eth0") == [
        "10.0.0.0/24 dev eth0 src 10.0.0.5 table isp_a",
        "default via 10.0.0.1 dev eth0 table isp_a",
    ]
    assert body(scripts / "rule-eth1") == ["from 10.2.0.5/32 table 20 priority 1002"]
    assert body(scripts / "route-eth1") == [
        "10.2.0.0/24 dev eth1 table 20",
        "default via 10.2.0.1 dev eth1 table 20",
    ]


def test_rp_filter_goes_to_the_sysctl_file(tmp_path: Path) -> None:
    text = (
        "[hosts.h1.interfaces.eth0]\n"
        '[hosts.h1.interfaces."eth0.100"]\naddress = "10.0.0.5/24"\nrp_filter = 2\n'
    )
    render_scripts(tmp_path, text)
    conf = (tmp_path / "out/h1/etc/sysctl.d/90-ifgen.conf").read_text()
    assert "\nnet.ipv4.conf.eth0/100.rp_filter = 2\n" in conf


def test_bring_up_order_puts_vlans_last() -> None:
    names = ["eth0.100", "eth10", "eth2", "bond0"]
    assert sorted(names, key=bring_up_order) == ["bond0", "eth2", "eth10", "eth0.100"]


def _iface(device: str, address: str, routes: tuple[Route, ...] = ()) -> Interface:
    from ipaddress import IPv4Interface

    return Interface(device, "static", IPv4Interface(address), routes=routes)


def test_multipath_moves_to_the_last_next_hop_device() -> None:
    from ipaddress import IPv4Address

    hops = (
        NextHop(IPv4Address("10.2.0.1"), "eth0.100", 2),
        NextHop(IPv4Address("10.0.0.1"), "eth0", 1),
    )
    multipath = Route(None, "eth0", nexthops=hops)
    host = Host(
        "h1",
        "site.toml",
        (
            _iface("eth0", "10.0.0.5/24", (multipath,)),
            _iface("eth10", "10.1.0.5/24"),
            _iface("eth0.100", "10.2.0.5/24"),
        ),
    )
    plan = plan_host(host)
    assert "eth0" not in plan.routes
    assert [ip_route(r) for r in plan.routes["eth0.100"]] == [
        "default nexthop via 10.2.0.1 dev eth0.100 weight 2 nexthop via 10.0.0.1 dev eth0 weight 1"
    ]
    assert plan.rules == {}
