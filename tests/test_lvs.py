"""LVS roles: what each role adds to a host, numbering, sysctl reasons, and the example."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

from helpers import EXAMPLES, run_main

from ifgen.inventory import Inventory, Origin, Section
from ifgen.model import Alias, Host
from ifgen.plan import plan_host
from ifgen.validate import build_hosts

WEB = {"vips": ["172.16.2.100", "172.16.2.101"], "interface": "eth1"}
MAIL = {"vips": [{"address": "172.16.2.110", "index": 5}], "interface": "eth1"}


def _host(**extra: object) -> Host:
    data = {"interfaces": {"eth1": {"address": "172.16.2.12/24"}}, **extra}
    inventory = Inventory(
        "t.toml",
        defaults=[
            Section({"services": {"web": WEB, "mail": MAIL}}, Origin("t.toml", ("defaults",)))
        ],
        hosts={"h": Section(data, Origin("t.toml", ("hosts", "h")))},
    )
    return build_hosts(inventory)[0]


def _files(host: Host) -> dict[str, dict[str, str]]:
    return {f.name: dict(f.keys) for f in plan_host(host).ifcfgs}


def test_realserver_vips_go_to_lo_from_zero_with_pins_kept() -> None:
    host = _host(
        roles={"web": "lvs-dr-realserver", "mail": "lvs-dr-realserver"},
        loopback=[{"address": "10.9.9.9/32", "index": 0}, "10.9.9.10/32"],
    )
    files = _files(host)
    lo = {name: keys["IPADDR"] for name, keys in files.items() if name.startswith("lo:")}
    # The declared lo:0 keeps its number, pinned mail VIP is lo:5, web VIPs take 1 and 2,
    # and the unnumbered declared loopback address comes after them.
    assert lo == {
        "lo:0": "10.9.9.9",
        "lo:1": "172.16.2.100",
        "lo:2": "172.16.2.101",
        "lo:3": "10.9.9.10",
        "lo:5": "172.16.2.110",
    }
    assert files["lo:1"]["PREFIX"] == "32"
    assert files["lo:1"]["ARPUPDATE"] == "no"
    assert "BROADCAST" not in files["lo:1"]


def test_director_vips_are_aliases_from_zero_with_broadcast() -> None:
    host = _host(
        roles={"web": "lvs-dr-director"},
        interfaces={"eth1": {"address": "172.16.2.13/24", "aliases": ["172.16.2.50/24"]}},
    )
    files = _files(host)
    assert files["eth1:0"] == {
        "DEVICE": "eth1:0",
        "IPADDR": "172.16.2.100",
        "PREFIX": "32",
        "ONPARENT": "yes",
        "BROADCAST": "172.16.2.100",
    }
    # Role VIPs are numbered first, unnumbered declared aliases take what is left.
    assert files["eth1:1"]["IPADDR"] == "172.16.2.101"
    assert files["eth1:2"]["IPADDR"] == "172.16.2.50"
    assert not any(name.startswith("lo:") for name in files)


def test_plan_host_knows_the_vips_as_host_addresses() -> None:
    plan = plan_host(_host(roles={"web": "lvs-dr-realserver"}))
    assert IPv4Address("172.16.2.100") in plan.host.addresses()
    assert plan.host.loopback[0] == Alias(IPv4Interface("172.16.2.100/32"), 0)


def test_sysctls_name_the_role_and_every_service() -> None:
    host = _host(
        roles={"web": "lvs-dr-realserver", "mail": "lvs-dr-realserver"},
        sysctl={"net.ipv4.conf.all.arp_ignore": 1, "net.core.somaxconn": 1024},
    )
    sysctls = [(s.key, s.value, s.reason) for s in plan_host(host).sysctls]
    reason = "role lvs-dr-realserver (services mail, web)"
    assert sysctls == [
        ("net.core.somaxconn", "1024", "hosts.h.sysctl in t.toml"),
        ("net.ipv4.conf.all.arp_announce", "2", reason),
        ("net.ipv4.conf.all.arp_ignore", "1", reason),
        ("net.ipv4.conf.lo.arp_announce", "2", reason),
        ("net.ipv4.conf.lo.arp_ignore", "1", reason),
    ]


def test_director_of_one_service_real_server_of_another() -> None:
    plan = plan_host(_host(roles={"web": "lvs-dr-director", "mail": "lvs-dr-realserver"}))
    names = {f.name for f in plan.ifcfgs}
    assert {"eth1:0", "eth1:1", "lo:5"} <= names
    assert {s.key: s.reason for s in plan.sysctls}["net.ipv4.ip_forward"] == (
        "role lvs-dr-director (service web)"
    )


def test_no_roles_no_change() -> None:
    host = _host()
    assert plan_host(host).host == host


def test_example_real_servers_share_the_group(tmp_path: Path) -> None:
    code, _, err = run_main("render", EXAMPLES / "lvs-dr.toml", "-o", tmp_path, "-q")
    assert code == 0, err
    for rs in ("rs1", "rs2"):
        scripts = tmp_path / rs / "etc/sysconfig/network-scripts"
        assert "IPADDR=172.16.2.100\nPREFIX=32\n" in (scripts / "ifcfg-lo:0").read_text()
        sysctl = (tmp_path / rs / "etc/sysctl.d/90-ifgen.conf").read_text()
        assert "# role lvs-dr-realserver (service web)\nnet.ipv4.conf.lo.arp_ignore = 1" in sysctl
    director = tmp_path / "director/etc/sysconfig/network-scripts/ifcfg-eth1:0"
    assert "BROADCAST=172.16.2.100" in director.read_text()


def test_nat_realserver_gets_a_policy_for_its_address_in_the_directors_subnet() -> None:
    from ifgen.model import Rule

    nat = {"interface": "eth1", "gateway": "192.168.168.11", "table": "lvs_nat"}
    host = _host(
        services={"nat": nat},
        roles={"nat": "lvs-nat-realserver"},
        tables={"lvs_nat": 100},
        interfaces={"eth1": {"address": "10.10.0.38/24", "aliases": ["192.168.168.238/24"]}},
    )
    plan = plan_host(host)
    lines = {(str(r.to), str(r.via), str(r.src), r.table) for r in plan.routes["eth1"]}
    assert lines == {
        ("192.168.168.0/24", "None", "192.168.168.238", "lvs_nat"),
        ("None", "192.168.168.11", "None", "lvs_nat"),
    }
    (rule,) = plan.rules["eth1"]
    assert isinstance(rule, Rule) and str(rule.from_) == "192.168.168.238/32"
    assert rule.priority is not None  # assigned, so a second ifup cannot stack copies
    assert not any(f.name.startswith("lo:") for f in plan.ifcfgs)
    assert plan.sysctls == ()


def test_nat_role_example_matches_the_hand_written_policy(tmp_path: Path) -> None:
    from helpers import read_tree

    for name in ("lvs-nat", "lvs-nat-role"):
        code, _, err = run_main("render", EXAMPLES / f"{name}.toml", "-o", tmp_path / name, "-q")
        assert code == 0, err

    def body(name: str) -> dict[str, list[bytes]]:
        tree = read_tree(tmp_path / name)
        return {path: text.splitlines()[1:] for path, text in tree.items()}

    assert body("lvs-nat-role") == body("lvs-nat")
