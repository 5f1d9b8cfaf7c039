"""Scenarios 2 and 3 brought up in a namespace: rules, per-source tables, multipath defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers import EXAMPLES, run_main
from netns import SCRIPTS, Netns, bring_up, ifup_routes


def _up(netns: Netns, tmp_path: Path, example: str, host: str) -> Path:
    code, _, err = run_main("render", EXAMPLES / example, "-o", tmp_path, "-q")
    assert code == 0, err
    tree = tmp_path / host
    bring_up(netns, tree)
    assert netns.errors == []
    return tree


def _rules(netns: Netns) -> list[dict[str, Any]]:
    import json

    found: list[dict[str, Any]] = json.loads(netns.run("ip", "-j", "rule", "show").stdout)
    return found


def _assert_rule_once(netns: Netns, source: str, table: str, priority: int) -> None:
    matching = [r for r in _rules(netns) if r.get("src") == source and r.get("table") == table]
    assert [r["priority"] for r in matching] == [priority]


def _assert_rerun_stacks_nothing(netns: Netns, tree: Path, device: str) -> None:
    before = _rules(netns)
    ifup_routes(netns, tree / SCRIPTS, device)
    assert _rules(netns) == before
    assert netns.errors and all("File exists" in e for e in netns.errors)


def test_multihoming_swipe(netns: Netns, tmp_path: Path) -> None:
    tree = _up(netns, tmp_path, "multihoming.toml", "swipe")
    _assert_rule_once(netns, "192.168.12.111", "rt2", 100)
    out = netns.route_get("8.8.8.8", "from", "192.168.12.111")
    assert (out["gateway"], out["dev"], out["table"]) == ("192.168.12.254", "eth1", "rt2")
    local = netns.route_get("192.168.12.50", "from", "192.168.12.111")
    assert ("gateway" not in local, local["dev"], local["table"]) == (True, "eth1", "rt2")
    main = netns.route_get("8.8.8.8")
    assert (main["gateway"], main["dev"]) in {("192.168.12.1", "eth0"), ("192.168.12.254", "eth1")}
    assert main.get("table", "main") == "main"
    hops = netns.run("ip", "route", "show", "default").stdout
    assert "nexthop via 192.168.12.1 dev eth0 weight 1" in hops
    assert "nexthop via 192.168.12.254 dev eth1 weight 1" in hops
    assert netns.sysctl("net.ipv4.conf.eth0.rp_filter") == "2"
    assert netns.sysctl("net.ipv4.conf.eth1.rp_filter") == "2"
    _assert_rerun_stacks_nothing(netns, tree, "eth1")


def test_lvs_nat_real_server(netns: Netns, tmp_path: Path) -> None:
    tree = _up(netns, tmp_path, "lvs-nat.toml", "rs-238")
    _assert_rule_once(netns, "192.168.168.238", "lvs_nat", 100)
    out = netns.route_get("8.8.8.8", "from", "192.168.168.238")
    assert (out["gateway"], out["dev"], out["table"]) == ("192.168.168.11", "eth1", "lvs_nat")
    local = netns.route_get("192.168.168.20", "from", "192.168.168.238")
    assert ("gateway" not in local, local["dev"], local["table"]) == (True, "eth1", "lvs_nat")
    table = netns.run("ip", "route", "show", "table", "lvs_nat").stdout
    assert "192.168.168.0/24 dev eth1 scope link src 192.168.168.238" in table
    main = netns.route_get("8.8.8.8")
    assert (main["gateway"], main["dev"], main["prefsrc"]) == (
        "113.226.77.1",
        "eth0",
        "113.226.77.138",
    )
    _assert_rerun_stacks_nothing(netns, tree, "eth1")
