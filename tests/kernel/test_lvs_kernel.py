"""The LVS-DR example brought up in namespaces: VIP local on lo, silent to ARP; director's alias."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import EXAMPLES, run_main
from netns import Netns, bring_up

VIP = "172.16.2.100"
RS1 = "172.16.2.12"
CLIENT = "172.16.2.50/24"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    code, _, err = run_main("render", EXAMPLES / "lvs-dr.toml", "-o", tmp_path, "-q")
    assert code == 0, err
    return tmp_path


def test_real_server_holds_the_vip_on_lo(netns: Netns, tree: Path) -> None:
    bring_up(netns, tree / "rs1")
    assert netns.errors == []
    local = netns.route_get(VIP)
    assert (local["type"], local["dev"]) == ("local", "lo")
    # Only the VIP became local, not the rest of its /24.
    neighbour = netns.route_get("172.16.2.101")
    assert (neighbour.get("type", "unicast"), neighbour["dev"]) == ("unicast", "eth1")
    for scope in ("all", "lo"):
        assert netns.sysctl(f"net.ipv4.conf.{scope}.arp_ignore") == "1"
        assert netns.sysctl(f"net.ipv4.conf.{scope}.arp_announce") == "2"


def _arping(ns: Netns, far_end: str, target: str) -> subprocess.CompletedProcess[str]:
    command = ["arping", "-c", "2", "-w", "3", "-I", far_end, target]
    return subprocess.run(
        ["ip", "netns", "exec", ns.peer, *command], capture_output=True, text=True
    )


def test_real_server_does_not_answer_arp_for_the_vip(netns: Netns, tree: Path) -> None:
    if shutil.which("arping") is None:
        pytest.fail("arping is not installed (Debian: apt-get install iputils-arping)")
    bring_up(netns, tree / "rs1")
    assert netns.errors == []
    far_end = netns.far_ends["eth1"]
    subprocess.run(["ip", "-n", netns.peer, "addr", "add", CLIENT, "dev", far_end], check=True)
    own = _arping(netns, far_end, RS1)
    assert own.returncode == 0 and "Received 2 response" in own.stdout, own.stdout + own.stderr
    vip = _arping(netns, far_end, VIP)
    assert vip.returncode != 0 and "Received 0 response" in vip.stdout, vip.stdout + vip.stderr
    # The control: without the role's arp_ignore the same host answers for the VIP.
    netns.run("sysctl", "-w", "net.ipv4.conf.all.arp_ignore=0", "net.ipv4.conf.lo.arp_ignore=0")
    loud = _arping(netns, far_end, VIP)
    assert loud.returncode == 0, loud.stdout + loud.stderr


def test_director_holds_the_vip_on_eth1_0_and_forwards(netns: Netns, tree: Path) -> None:
    bring_up(netns, tree / "director")
    assert netns.errors == []
    shown = netns.run("ip", "-j", "addr", "show", "dev", "eth1").stdout
    assert f'"local":"{VIP}","prefixlen":32' in shown
    assert '"label":"eth1:0"' in shown
    assert netns.sysctl("net.ipv4.ip_forward") == "1"
    local = netns.route_get(VIP)
    assert (local["type"], local["dev"]) == ("local", "lo")


def test_nat_real_server_replies_through_the_director(netns: Netns, tmp_path: Path) -> None:
    code, _, err = run_main("render", EXAMPLES / "lvs-nat-role.toml", "-o", tmp_path, "-q")
    assert code == 0, err
    bring_up(netns, tmp_path / "rs-238")
    assert netns.errors == []
    reply = netns.route_get("8.8.8.8", "from", "192.168.168.238")
    assert (reply["gateway"], reply["dev"], reply.get("table")) == (
        "192.168.168.11",
        "eth1",
        "lvs_nat",
    )
    normal = netns.route_get("8.8.8.8")
    assert (normal["gateway"], normal["dev"]) == ("113.226.77.1", "eth0")
