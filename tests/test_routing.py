"""The offline lookup (routing.py), `ifgen explain`, and `expect` entries checked by `check`."""

from __future__ import annotations

import json
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from helpers import EXAMPLES, run_main

from ifgen.explain import explain, host_state
from ifgen.pipeline import load_hosts
from ifgen.plan import HostPlan, plan_host
from ifgen.replay import build_state
from ifgen.routing import LookupProblem

VIP_SITE = """
[hosts.db1]
[hosts.db1.interfaces.eth0]
address = "172.16.3.111/24"
aliases = ["172.16.3.105/24", "10.9.0.5/24"]
routes = [
  { to = "default", via = "172.16.3.1", src = "172.16.3.111", metric = 100 },
  { to = "172.16.3.0/25", src = "172.16.3.105", metric = 1 },
  { to = "default", via = "172.16.3.1", src = "172.16.3.105", metric = 1 },
  { to = "default", via = "172.16.3.1", src = "172.16.3.105", table = "vip" },
  { to = "10.50.0.0/16", via = "10.9.0.1" },
]
rules = [{ from = "10.9.0.5", table = "vip", priority = 50 }]
[hosts.db1.interfaces.eth1]
address = "192.168.7.2/24"
[hosts.db1.tables]
vip = 10
"""


def _plan(tmp_path: Path, text: str = VIP_SITE, name: str = "site.toml") -> HostPlan:
    inventory = tmp_path / name
    inventory.write_text(text)
    return plan_host(load_hosts(inventory)[0])


def _ask(plan: HostPlan, dest: str, src: str | None = None, without: str | None = None) -> tuple:
    answer = explain(
        plan,
        IPv4Address(dest),
        IPv4Address(src) if src else None,
        IPv4Address(without) if without else None,
    )
    hop = answer.hops[0]
    return answer.kind, answer.table, str(hop.via or ""), hop.dev, str(hop.src)


def test_longest_prefix_then_lowest_metric(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    assert _ask(plan, "8.8.8.8") == ("unicast", "main", "172.16.3.1", "eth0", "172.16.3.105")
    assert _ask(plan, "172.16.3.9") == ("unicast", "main", "", "eth0", "172.16.3.105")
    # Not covered by the /25: the kernel's own /24 of the primary answers.
    assert _ask(plan, "172.16.3.200") == ("unicast", "main", "", "eth0", "172.16.3.111")


def test_source_follows_the_next_hops_subnet(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    # No src on the route: the primary of eth0 whose subnet holds the gateway 10.9.0.1.
    assert _ask(plan, "10.50.1.1") == ("unicast", "main", "10.9.0.1", "eth0", "10.9.0.5")
    assert _ask(plan, "10.9.0.77") == ("unicast", "main", "", "eth0", "10.9.0.5")


def test_secondaries_get_no_prefix_route(tmp_path: Path) -> None:
    state = build_state(_plan(tmp_path))
    kernel_main = sorted(str(e.to) for e in state.routes if e.table == 254 and e.owner)
    assert kernel_main == ["10.9.0.0/24", "172.16.3.0/24", "192.168.7.0/24"]
    assert [a.iface.ip for a in state.addresses if a.secondary] == [IPv4Address("172.16.3.105")]


def test_rules_pick_the_table_by_source(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    assert _ask(plan, "8.8.8.8", "10.9.0.5") == ("unicast", "vip", "172.16.3.1", "eth0", "10.9.0.5")
    assert _ask(plan, "8.8.8.8", "192.168.7.2")[1] == "main"


def test_local_addresses_and_loopback_prefix(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    # The secondary's local route carries the subnet's primary as its source (fib_add_ifaddr).
    assert _ask(plan, "172.16.3.105") == ("local", "local", "", "lo", "172.16.3.111")
    assert _ask(plan, "127.3.3.3") == ("local", "local", "", "lo", "127.0.0.1")
    assert _ask(plan, "172.16.3.255")[:2] == ("broadcast", "local")


def test_without_drops_main_routes_using_the_alias_as_source(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    assert _ask(plan, "8.8.8.8", without="172.16.3.105") == (
        "unicast",
        "main",
        "172.16.3.1",
        "eth0",
        "172.16.3.111",
    )
    assert _ask(plan, "172.16.3.9", without="172.16.3.105")[4] == "172.16.3.111"
    answer = explain(plan, IPv4Address("8.8.8.8"), without=IPv4Address("10.9.0.5"))
    # ifdown eth0:2 also runs `ip rule del` for every line of rule-eth0.
    assert any(c.startswith("rule removed") for c in answer.changes)


def test_without_keeps_routes_with_that_source_in_other_tables(tmp_path: Path) -> None:
    state = host_state(_plan(tmp_path), IPv4Address("172.16.3.105"))
    kept = [e.table for e in state.routes if e.src == IPv4Address("172.16.3.105")]
    assert kept == [10]


def test_without_refuses_a_primary_and_from_must_be_held(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    with pytest.raises(LookupProblem, match="not the address of an alias"):
        _ask(plan, "8.8.8.8", without="172.16.3.111")
    with pytest.raises(LookupProblem, match="not an address of db1"):
        _ask(plan, "8.8.8.8", "172.16.3.9")


def test_refused_lines_are_reported_and_not_installed(tmp_path: Path) -> None:
    text = VIP_SITE.replace(
        '{ to = "10.50.0.0/16", via = "10.9.0.1" },',
        '{ to = "10.50.0.0/16", via = "10.9.0.1" },\n'
        '  { to = "10.50.0.0/16", via = "172.16.3.1" },\n'
        '  { to = "10.60.0.0/16", via = "192.168.7.1", dev = "eth1" },',
    )
    state = build_state(_plan(tmp_path, text))
    assert [r.split(": ")[-1] for r in state.refused] == [
        "File exists",
        "Nexthop has invalid gateway",
    ]


def test_multipath_reports_every_next_hop() -> None:
    plan = plan_host(load_hosts(EXAMPLES / "multihoming.toml")[0])
    answer = explain(plan, IPv4Address("8.8.8.8"))
    assert answer.values("via") == ["192.168.12.1", "192.168.12.254"]
    assert answer.values("dev") == ["eth0", "eth1"]


def test_explain_cli_text_and_json() -> None:
    code, out, err = run_main(
        "explain", EXAMPLES / "vip-source.toml", "--host", "db-172-16-3-111", "192.168.1.1"
    )
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "db-172-16-3-111: 192.168.1.1",
        "  rule   32766: from all lookup main",
        "  table  main",
        "  route  default via 172.16.3.1 dev eth0 src 172.16.3.105 metric 1  (route-eth0)",
        "  via 172.16.3.1 dev eth0 src 172.16.3.105",
    ]
    code, out, _ = run_main(
        "explain",
        EXAMPLES / "vip-source.toml",
        "--host",
        "db-172-16-3-111",
        "192.168.1.1",
        "--without",
        "172.16.3.105",
        "--json",
    )
    got = json.loads(out)
    assert (code, got["nexthops"], got["table"]) == (
        0,
        [{"via": "172.16.3.1", "dev": "eth0", "src": "172.16.3.111"}],
        "main",
    )
    assert got["changes"][0] == "address removed: 172.16.3.105/24 (eth0:1)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["10.0.0.300"], "DEST: '10.0.0.300' is not an IPv4 address\n"),
        (["1.1.1.1", "--from", "9.9.9.9"], "--from 9.9.9.9: not an address of app1\n"),
        (
            ["1.1.1.1", "--without", "10.0.0.21"],
            "--without 10.0.0.21: not the address of an alias or loopback VIP\n",
        ),
    ],
)
def test_explain_cli_bad_input(args: list[str], message: str) -> None:
    code, out, err = run_main("explain", EXAMPLES / "basic.toml", "--host", "app1", *args)
    assert (code, out, err) == (2, "", message)


def test_unreachable_is_an_answer(tmp_path: Path) -> None:
    inventory = tmp_path / "lone.toml"
    inventory.write_text('[hosts.h.interfaces.eth0]\naddress = "10.1.1.1/24"\n')
    code, out, _ = run_main("explain", inventory, "--host", "h", "8.8.8.8")
    assert (code, out.splitlines()[-1]) == (
        0,
        "  unreachable: no rule finds a route (Network is unreachable)",
    )


def test_every_example_states_its_lookups() -> None:
    for inventory in sorted(EXAMPLES.glob("*.toml")):
        hosts = load_hosts(inventory)
        assert any(h.expect for h in hosts), f"{inventory.name} has no expect entries"
        code, out, err = run_main("check", inventory)
        assert (code, err) == (0, ""), out


def test_check_reports_a_broken_expectation(tmp_path: Path) -> None:
    inventory = tmp_path / "db.toml"
    inventory.write_text(
        VIP_SITE
        + '[[hosts.db1.expect]]\nto = "8.8.8.8"\nsrc = "172.16.3.111"\nvia = "172.16.3.1"\n'
        + '[[hosts.db1.expect]]\nto = "8.8.8.8"\nwithout = "172.16.3.105"\nsrc = "172.16.3.111"\n'
    )
    code, out, err = run_main("check", inventory)
    assert code == 1
    assert err == "expect: 1 of 2 expectations failed\n"
    assert out.splitlines()[:3] == [
        "expect failed: db.toml: hosts.db1.expect[0]: src is 172.16.3.105, expected 172.16.3.111",
        "  db1: 8.8.8.8",
        "    rule   32766: from all lookup main",
    ]


def test_expect_lists_match_the_set_of_next_hops(tmp_path: Path) -> None:
    text = (EXAMPLES / "multihoming.toml").read_text()
    inventory = tmp_path / "mh.toml"
    inventory.write_text(text + '\n[[hosts.swipe.expect]]\nto = "9.9.9.9"\nvia = "192.168.12.1"\n')
    code, out, _ = run_main("check", inventory)
    assert code == 1
    assert "via is 192.168.12.1 and 192.168.12.254, expected 192.168.12.1" in out


def test_a_group_expectation_names_the_member_that_fails(tmp_path: Path) -> None:
    inventory = tmp_path / "grp.toml"
    inventory.write_text(
        '[groups.g]\n[[groups.g.expect]]\nto = "8.8.8.8"\nvia = "10.1.1.1"\n'
        '[hosts.a]\ngroups = ["g"]\ngateway = "10.1.1.1"\n'
        '[hosts.a.interfaces.eth0]\naddress = "10.1.1.5/24"\n'
        '[hosts.b]\ngroups = ["g"]\ngateway = "10.1.1.2"\n'
        '[hosts.b.interfaces.eth0]\naddress = "10.1.1.6/24"\n'
    )
    code, out, err = run_main("check", inventory)
    assert (code, err) == (1, "expect: 1 of 2 expectations failed\n")
    assert out.splitlines()[0] == (
        "expect failed: grp.toml: groups.g.expect[0] (host b): via is 10.1.1.2, expected 10.1.1.1"
    )
