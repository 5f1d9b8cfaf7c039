"""`explain` against the kernel: every example host and hundreds of generated ones.

Each host's rendered files are brought up in a namespace the way ifup does; then every lookup
`ip -j route get DEST [from SRC]` answers must be one `explain` allows (dev, gateway, source,
table), before and after an alias is taken down with ifdown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from compare import destinations, disagreements, sources
from helpers import EXAMPLES, run_main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netns import SCRIPTS, bring_up, ifdown_alias, namespace, source_ifcfg

from ifgen.pipeline import load_hosts
from ifgen.plan import HostPlan, plan_host
from ifgen.render import render_host

HOSTS = [(path, host.name) for path in sorted(EXAMPLES.glob("*.toml")) for host in load_hosts(path)]


def _render(inventory: Path, out: Path) -> None:
    code, _, err = run_main("render", inventory, "-o", out, "-q")
    assert code == 0, err


def _aliases(tree: Path) -> list[tuple[str, str]]:
    scripts = tree / SCRIPTS
    found = sorted(p.name[len("ifcfg-") :] for p in scripts.glob("ifcfg-*:*"))
    return [(name, source_ifcfg(scripts / f"ifcfg-{name}")["IPADDR"]) for name in found]


def _compare(plan: HostPlan, tree: Path, alias: tuple[str, str] | None = None) -> list[str]:
    with namespace() as ns:
        bring_up(ns, tree)
        if alias is not None:
            ifdown_alias(ns, tree, alias[0])
        without = alias[1] if alias else None
        return disagreements(ns, plan, destinations(plan), sources(plan, tree), without)


@pytest.mark.parametrize(("inventory", "name"), HOSTS, ids=[f"{p.stem}-{n}" for p, n in HOSTS])
def test_explain_agrees_with_kernel_on_examples(inventory: Path, name: str, tmp_path: Path) -> None:
    _render(inventory, tmp_path)
    plan = plan_host(load_hosts(inventory, [name])[0])
    tree = tmp_path / name
    assert _compare(plan, tree) == []
    for alias in _aliases(tree):
        assert _compare(plan, tree, alias) == [], f"after ifdown {alias[0]}"


# -- generated hosts ------------------------------------------------------------------------


@st.composite
def _subnet(draw: st.DrawFn, region: int) -> tuple[str, list[str]]:
    """A subnet inside 10.REGION.0.0/16 and a few distinct host addresses in it."""
    prefix = draw(st.integers(20, 29))
    size = 2 ** (32 - prefix)
    block = draw(st.integers(0, 2 ** (prefix - 16) - 1))
    base = (10 << 24) | (region << 16) | (block * size)
    hosts = draw(st.lists(st.integers(1, size - 2), min_size=4, max_size=4, unique=True))
    return f"{_ip(base)}/{prefix}", [_ip(base + h) for h in hosts]


def _ip(value: int) -> str:
    return ".".join(str((value >> s) & 255) for s in (24, 16, 8, 0))


@st.composite
def _interface(draw: st.DrawFn, index: int) -> dict[str, Any]:
    net, ips = draw(_subnet(10 + 2 * index))
    other_net, other_ips = draw(_subnet(11 + 2 * index))
    prefix = net.split("/")[1]
    aliases = []
    if draw(st.booleans()):
        aliases.append(f"{ips[1]}/{prefix}")
    elsewhere = draw(st.booleans())
    if elsewhere:
        aliases.append(f"{other_ips[0]}/{other_net.split('/')[1]}")
    if draw(st.booleans()):
        aliases.append(f"{ips[2]}/{prefix}")
    iface: dict[str, Any] = {"address": f"{ips[0]}/{prefix}", "aliases": aliases}
    iface["_gateways"] = [ips[3]] + ([other_ips[1]] if elsewhere else [])
    return iface


@st.composite
def _route(draw: st.DrawFn, iface: dict[str, Any], addresses: list[str]) -> dict[str, Any]:
    to = draw(
        st.sampled_from(["default", "192.168.0.0/16", "192.168.4.0/24", "172.20.0.0/14"])
        | st.builds(
            lambda a, p: f"{_ip((192 << 24) | (168 << 16) | (a << 8))}/{p}",
            st.integers(0, 255),
            st.just(24),
        )
    )
    route: dict[str, Any] = {"to": to}
    if draw(st.booleans()):
        route["via"] = draw(st.sampled_from(iface["_gateways"]))
    if draw(st.booleans()):
        route["src"] = draw(st.sampled_from(addresses))
    metric = draw(st.sampled_from([None, 1, 10, 100]))
    if metric is not None:
        route["metric"] = metric
    table = draw(st.sampled_from([None, None, "t1", "t2"]))
    if table is not None:
        route["table"] = table
    return route


@st.composite
def _host(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 3))
    ifaces = {f"eth{i}": draw(_interface(i)) for i in range(count)}
    loopback = [f"172.31.{i}.{i + 1}/32" for i in range(draw(st.integers(0, 2)))]
    addresses = [a.split("/")[0] for i in ifaces.values() for a in [i["address"], *i["aliases"]]]
    addresses += [a.split("/")[0] for a in loopback]
    for iface in ifaces.values():
        iface["routes"] = draw(st.lists(_route(iface, addresses), max_size=3))
        iface["rules"] = draw(st.lists(_rule(addresses), max_size=2))
    if count > 1 and draw(st.booleans()):
        first, last = ifaces["eth0"], ifaces[f"eth{count - 1}"]
        hops = [
            {"via": first["_gateways"][0], "dev": "eth0"},
            {"via": last["_gateways"][0], "dev": f"eth{count - 1}"},
        ]
        place = draw(st.sampled_from(["eth0", f"eth{count - 1}"]))
        ifaces[place]["routes"].append({"to": "default", "nexthops": hops, "metric": 5})
    host: dict[str, Any] = {
        "interfaces": ifaces,
        "loopback": loopback,
        "tables": {"t1": 101, "t2": 102},
    }
    gateway_dev = draw(st.sampled_from([None, *ifaces]))
    if gateway_dev is not None:
        ifaces[gateway_dev]["gateway"] = ifaces[gateway_dev]["_gateways"][0]
    for iface in ifaces.values():
        del iface["_gateways"]
    return host


@st.composite
def _rule(draw: st.DrawFn, addresses: list[str]) -> dict[str, Any]:
    rule: dict[str, Any] = {"table": draw(st.sampled_from(["t1", "t2", "main"]))}
    selector = draw(st.sampled_from(["from", "to", "both"]))
    if selector in ("from", "both"):
        rule["from"] = draw(st.sampled_from(addresses))
    if selector in ("to", "both"):
        rule["to"] = draw(st.sampled_from(["192.168.4.0/24", "192.168.0.0/16", "8.8.8.0/24"]))
    # A lookup is that of a locally generated packet: iif lo and fwmark 0 match, others not.
    extra = draw(st.sampled_from([{}, {}, {"iif": "lo"}, {"iif": "eth0"}, {"fwmark": "0x1"}]))
    return {**rule, **extra}


@settings(
    max_examples=500,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(host=_host(), data=st.data())
def test_explain_agrees_with_kernel_on_generated_hosts(
    host: dict[str, Any], data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    out = tmp_path_factory.mktemp("gen")
    inventory = out / "gen.json"
    inventory.write_text(json.dumps({"hosts": {"gen": host}}))
    plan = plan_host(load_hosts(inventory)[0])
    tree = out / "gen"
    for rendered in render_host(plan):
        (tree / rendered.relpath).parent.mkdir(parents=True, exist_ok=True)
        (tree / rendered.relpath).write_text(rendered.text)
    alias = data.draw(st.sampled_from([None, *_aliases(tree)]))
    assert _compare(plan, tree, alias) == []
