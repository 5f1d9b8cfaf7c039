"""The basic example, brought up in a namespace: every line accepted, lookups as declared."""

from __future__ import annotations

from pathlib import Path

from helpers import EXAMPLES, run_main
from netns import Netns, bring_up


def test_basic_app1_comes_up_clean(netns: Netns, tmp_path: Path) -> None:
    code, _, err = run_main("render", EXAMPLES / "basic.toml", "-o", tmp_path, "-q")
    assert code == 0, err
    bring_up(netns, tmp_path / "app1")
    assert netns.errors == []
    main_default = netns.route_get("192.0.2.1")
    assert (main_default["gateway"], main_default["dev"], main_default["prefsrc"]) == (
        "10.0.0.1",
        "eth0",
        "10.0.0.21",
    )
    specific = netns.route_get("10.20.5.5")
    assert (specific["gateway"], specific["dev"]) == ("10.0.0.254", "eth0")
    backup = netns.route_get("192.0.2.1", "from", "10.0.0.121")
    assert (backup["gateway"], backup.get("table")) == ("10.0.0.254", "backup")
    labels = netns.run("ip", "-j", "addr", "show", "dev", "eth0").stdout
    assert '"label":"eth0:1"' in labels
    assert netns.sysctl("net.core.somaxconn") == "4096"
    assert netns.run("ip", "-j", "link", "show", "eth0").stdout.count('"mtu":9000') == 1
