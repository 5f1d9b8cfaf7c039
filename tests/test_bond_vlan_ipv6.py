"""Bonds, slaves, VLANs and IPv6: the files plan and render make of them."""

from __future__ import annotations

from pathlib import Path

from helpers import body, render_scripts, run_main

BOND_WITH_EVERYTHING = """
[hosts.h1]
gateway = "172.16.3.1"
tables = { nat = 100 }
roles = { web = "lvs-dr-director" }
services = { web = { interface = "bond0", vips = ["172.16.3.200"] } }

[hosts.h1.interfaces.bond0]
address = "172.16.3.121/24"
aliases = ["172.16.3.125/24"]
prefer_source = "172.16.3.125"
bond = { slaves = ["eth1", "eth0"], mode = 4, miimon = 50 }
policy = [{ source = "172.16.3.121", table = "nat", gateway = "172.16.3.11" }]

[hosts.h1.interfaces."bond0.7"]
ipv6_address = "2001:db8:7::5/64"
ipv6_gateway = "fe80::1"
rules6 = [{ from = "2001:db8:7::5/128", table = "nat" }, { to = "2001:db8:9::/48", table = 9 }]
"""


def test_bond_master_slaves_and_intents_on_bond0(tmp_path: Path) -> None:
    scripts = render_scripts(tmp_path, BOND_WITH_EVERYTHING)
    bond = body(scripts / "ifcfg-bond0")
    assert bond[:3] == ["DEVICE=bond0", "TYPE=Bond", "BONDING_MASTER=yes"]
    # Mode by number comes out by name; no primary outside the modes that use it.
    assert bond[-1] == 'BONDING_OPTS="mode=802.3ad miimon=50"'
    for slave in ("eth0", "eth1"):
        lines = body(scripts / f"ifcfg-{slave}")
        assert lines[-2:] == ["MASTER=bond0", "SLAVE=yes"]
        assert not any(line.startswith(("IPADDR", "GATEWAY", "IPV6")) for line in lines)
        assert not (scripts / f"route-{slave}").exists()
    # Aliases, the preferred-source split, the policy table and the director VIP all on bond0.
    vips = {p.name: body(p)[1] for p in scripts.glob("ifcfg-bond0:*")}
    assert vips == {"ifcfg-bond0:0": "IPADDR=172.16.3.200", "ifcfg-bond0:1": "IPADDR=172.16.3.125"}
    routes = body(scripts / "route-bond0")
    assert "172.16.3.0/25 dev bond0 proto kernel scope link src 172.16.3.125 metric 1" in routes
    assert "default via 172.16.3.11 dev bond0 table nat" in routes
    assert body(scripts / "rule-bond0")[0].startswith("from 172.16.3.121/32 table nat")


def test_vlan_on_bond_with_ipv6_and_numbered_rule6(tmp_path: Path) -> None:
    scripts = render_scripts(tmp_path, BOND_WITH_EVERYTHING)
    vlan = body(scripts / "ifcfg-bond0.7")
    assert vlan[:3] == ["DEVICE=bond0.7", "VLAN=yes", "PHYSDEV=bond0"]
    assert not any(line.startswith("TYPE=") for line in vlan)
    assert vlan[-4:] == [
        "IPV6INIT=yes",
        "IPV6_AUTOCONF=no",
        "IPV6ADDR=2001:db8:7::5/64",
        "IPV6_DEFAULTGW=fe80::1%bond0.7",
    ]
    # IPv6 rules have their own priority space: the first free one from 1000 there too.
    assert body(scripts / "rule6-bond0.7") == [
        "from 2001:db8:7::5/128 table nat priority 1000",
        "to 2001:db8:9::/48 table 9 priority 1001",
    ]
    network = (tmp_path / "out/h1/etc/sysconfig/network").read_text()
    assert "\nNETWORKING_IPV6=yes\n" in network


def test_undeclared_slaves_get_plain_files_and_ipv4_hosts_get_no_ipv6_keys(
    tmp_path: Path,
) -> None:
    text = '[hosts.h1.interfaces.eth0]\naddress = "10.0.0.5/24"\n'
    scripts = render_scripts(tmp_path, text)
    assert body(scripts / "ifcfg-eth0")[1] == "TYPE=Ethernet"
    assert not any("IPV6" in line for line in body(scripts / "ifcfg-eth0"))
    assert "IPV6" not in (tmp_path / "out/h1/etc/sysconfig/network").read_text()


def test_extra_cannot_set_the_bond_and_ipv6_keys(tmp_path: Path) -> None:
    inventory = tmp_path / "site.toml"
    inventory.write_text('[hosts.h1.interfaces.eth0]\nextra = { IPV6ADDR = "x", MASTER = "b" }\n')
    code, _, err = run_main("check", inventory)
    assert code == 2
    assert "'IPV6ADDR' is written by ifgen itself; use 'ipv6_address' instead" in err
    assert "'MASTER' is written by ifgen itself" in err
