"""IPv6 in a namespace: the dual-stack files come up; what a /65 split with `src` does."""

from __future__ import annotations

from pathlib import Path

from helpers import EXAMPLES, run_main
from netns import Netns, bring_up

SPLIT = """
[hosts.h6.interfaces.eth0]
ipv6_address = "2001:db8:10::20/64"
ipv6_secondaries = ["2001:db8:10::21/64"]
ipv6_gateway = "2001:db8:10::1"
routes6 = [
    { to = "2001:db8:10::/65", src = "2001:db8:10::20", metric = 1, proto = "kernel" },
    { to = "2001:db8:10:0:8000::/65", src = "2001:db8:10::20", metric = 1, proto = "kernel" },
    { to = "default", via = "2001:db8:10::1", src = "2001:db8:10::20", metric = 1 },
]
"""


def _render(inventory: Path, out: Path) -> None:
    code, _, err = run_main("render", inventory, "-o", out, "-q")
    assert code == 0, err


def _answer(ns: Netns, dest: str, *extra: str) -> tuple[str | None, str, str]:
    got = ns.route_get(dest, *extra)
    return got.get("gateway"), got["dev"], got["prefsrc"]


def test_dual_stack_host_comes_up(netns: Netns, tmp_path: Path) -> None:
    _render(EXAMPLES / "dual-stack.toml", tmp_path)
    bring_up(netns, tmp_path / "web-ds-1")
    assert netns.errors == []
    # IPv6 has no primary: among equal candidates the kernel takes the address added last,
    # and ifup-ipv6 adds IPV6ADDR_SECONDARIES after IPV6ADDR.
    assert _answer(netns, "2001:4860::1") == ("2001:db8:10::1", "eth0", "2001:db8:10::21")
    assert _answer(netns, "2001:db8:ff::9") == ("2001:db8:10::fe", "eth0", "2001:db8:10::21")
    # The rule6 line sends the service address's replies through the second router.
    assert _answer(netns, "2001:4860::1", "from", "2001:db8:10::21") == (
        "2001:db8:10::2",
        "eth0",
        "2001:db8:10::21",
    )
    assert _answer(netns, "198.51.100.9") == (None, "eth0", "198.51.100.20")


def test_split_with_src_picks_the_secondary_once_settled(netns: Netns, tmp_path: Path) -> None:
    inventory = tmp_path / "split.toml"
    inventory.write_text(SPLIT)
    _render(inventory, tmp_path / "out")
    bring_up(netns, tmp_path / "out/h6")
    assert netns.errors == []
    # Without the split the secondary (added last) would win; the /65s make it the primary.
    for dest in ("2001:db8:10::99", "2001:db8:10:0:8000::99", "2001:4860::1"):
        assert _answer(netns, dest)[2] == "2001:db8:10::20"
    # Unlike IPv4, removing the address keeps the routes and only drops their src.
    netns.ip("-6", "addr", "del", "2001:db8:10::20/64", "dev", "eth0")
    for dest in ("2001:db8:10::99", "2001:4860::1"):
        assert _answer(netns, dest)[2] == "2001:db8:10::21"


def test_src_of_a_tentative_address_is_refused(netns: Netns) -> None:
    """Why prefer_source is not offered for IPv6: before DAD ends the route line fails."""
    netns.add_link("eth0")
    netns.ip("link", "set", "dev", "eth0", "up")
    netns.ip("-6", "addr", "add", "2001:db8:10::21/64", "dev", "eth0")
    assert not netns.ip(
        "-6", "route", "add", "2001:db8:10::/65", "dev", "eth0", "src", "2001:db8:10::21"
    )
    assert "Invalid source address" in netns.errors[-1]
