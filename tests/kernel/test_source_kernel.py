"""Preferred source in a namespace: the VIP answers every lookup, the primary after ifdown."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import EXAMPLES, run_main
from netns import Netns, bring_up, ifdown_alias


def _render(example: str, out: Path) -> None:
    code, _, err = run_main("render", EXAMPLES / example, "-o", out, "-q")
    assert code == 0, err


def _answers(ns: Netns, dests: list[str]) -> dict[str, tuple[str | None, str, str]]:
    found = {}
    for dest in dests:
        got = ns.route_get(dest)
        found[dest] = (got.get("gateway"), got["dev"], got["prefsrc"])
    return found


SCENARIO_1 = ["192.168.1.1", "172.16.3.1", "172.16.3.0", "172.16.3.127", "172.16.3.128"]


def _scenario_1(src: str) -> dict[str, tuple[str | None, str, str]]:
    want = {dest: (None, "eth0", src) for dest in SCENARIO_1}
    want["192.168.1.1"] = ("172.16.3.1", "eth0", src)
    return want


def test_scenario_1_vip_then_primary(netns: Netns, tmp_path: Path) -> None:
    _render("vip-source.toml", tmp_path)
    tree = tmp_path / "db-172-16-3-111"
    bring_up(netns, tree)
    assert netns.errors == []
    assert _answers(netns, SCENARIO_1) == _scenario_1("172.16.3.105")
    ifdown_alias(netns, tree, "eth0:1")
    assert netns.errors == []
    assert _answers(netns, SCENARIO_1) == _scenario_1("172.16.3.111")


def test_scenario_1_tree_has_no_gateway(tmp_path: Path) -> None:
    _render("vip-source.toml", tmp_path)
    files = [p for p in (tmp_path / "db-172-16-3-111").rglob("*") if p.is_file()]
    assert len(files) == 4
    for path in files:
        assert "GATEWAY=" not in path.read_text(), path


WIDE = [
    # host, device, alias, VIP, primary, gateway, lookups (off-link first when a gateway
    # exists). The subnet's broadcast address is left out: the local table answers it first,
    # always from the primary, whatever the main table says.
    (
        "db-10-20-0-11",
        "eth0",
        "eth0:1",
        "10.20.1.200",
        "10.20.0.11",
        "10.20.0.1",
        ["192.168.1.1", "10.20.0.1", "10.20.0.0", "10.20.0.255", "10.20.1.0", "10.20.1.254"],
    ),
    (
        "app-192-168-40-10",
        "eth0",
        "eth0:2",
        "192.168.40.50",
        "192.168.40.10",
        "192.168.40.1",
        ["192.168.1.1", "192.168.40.1", "192.168.40.0", "192.168.40.31", "192.168.40.32"],
    ),
    (
        "app-192-168-40-10",
        "eth1",
        "eth1:1",
        "10.30.0.9",
        "10.30.0.5",
        None,
        ["10.30.0.1", "10.30.0.0", "10.30.0.63", "10.30.0.64", "10.30.0.126"],
    ),
]


@pytest.mark.parametrize("case", WIDE, ids=lambda c: f"{c[0]}-{c[1]}")
def test_wide_prefixes_vip_then_primary(
    netns: Netns, tmp_path: Path, case: tuple[str, str, str, str, str, str | None, list[str]]
) -> None:
    host, dev, alias, vip, primary, gateway, dests = case
    _render("vip-source-wide.toml", tmp_path)
    tree = tmp_path / host
    bring_up(netns, tree)
    assert netns.errors == []

    def want(src: str) -> dict[str, tuple[str | None, str, str]]:
        on_link = {d: (None, dev, src) for d in dests}
        if gateway is not None:
            on_link[dests[0]] = (gateway, dev, src)
        return on_link

    assert _answers(netns, dests) == want(vip)
    ifdown_alias(netns, tree, alias)
    assert netns.errors == []
    assert _answers(netns, dests) == want(primary)


def test_two_interfaces_keep_their_own_source(netns: Netns, tmp_path: Path) -> None:
    _render("vip-source-wide.toml", tmp_path)
    tree = tmp_path / "app-192-168-40-10"
    bring_up(netns, tree)
    ifdown_alias(netns, tree, "eth0:2")
    assert netns.route_get("10.30.0.1")["prefsrc"] == "10.30.0.9"
    assert netns.route_get("192.168.40.2")["prefsrc"] == "192.168.40.10"
    assert netns.route_get("10.99.1.1")["prefsrc"] == "192.168.40.10"
    assert netns.errors == []
