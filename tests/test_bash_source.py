"""Every generated ifcfg file, sourced by bash, yields exactly the intended variables."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import EXAMPLES

from ifgen.pipeline import load_hosts
from ifgen.plan import plan_host

BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="bash is not installed")
EXAMPLE_FILES = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".toml", ".json"))


def sourced_variables(path: Path) -> dict[str, str]:
    """Variables a file adds to an empty environment when bash sources it with `set -a`."""
    script = 'set -a; . "$1"; env -0'
    baseline = subprocess.run(
        [BASH, "-c", "set -a; env -0", "-", "/dev/null"], env={}, capture_output=True, check=True
    ).stdout
    out = subprocess.run(
        [BASH, "-c", script, "-", str(path)], env={}, capture_output=True, check=True
    )
    assert out.stderr == b"", out.stderr
    before = dict(item.split("=", 1) for item in baseline.decode().split("\0") if item)
    after = dict(item.split("=", 1) for item in out.stdout.decode().split("\0") if item)
    return {k: v for k, v in after.items() if before.get(k) != v and k != "_"}


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_sourcing_yields_planned_keys(example: Path, tmp_path: Path) -> None:
    from ifgen.render import render_host

    for host in load_hosts(example):
        plan = plan_host(host)
        files = {f.relpath: f.text for f in render_host(plan)}
        for ifcfg in plan.ifcfgs:
            path = tmp_path / f"ifcfg-{host.name}-{ifcfg.name}"
            path.write_text(files[f"etc/sysconfig/network-scripts/ifcfg-{ifcfg.name}"])
            assert sourced_variables(path) == dict(ifcfg.keys)


def test_spaced_value_is_one_variable(tmp_path: Path) -> None:
    inv = tmp_path / "i.toml"
    inv.write_text(
        '[hosts.h.interfaces.eth0]\naddress = "10.0.0.5/24"\n'
        '[hosts.h.interfaces.eth0.extra]\nETHTOOL_OPTS = "-K eth0 gro off"\nLINKDELAY = 5\n'
    )
    from ifgen.render import render_host

    (host,) = load_hosts(inv)
    (ifcfg,) = [f for f in render_host(plan_host(host)) if f.relpath.endswith("ifcfg-eth0")]
    path = tmp_path / "ifcfg-eth0"
    path.write_text(ifcfg.text)
    got = sourced_variables(path)
    assert got["ETHTOOL_OPTS"] == "-K eth0 gro off"
    assert got["LINKDELAY"] == "5"
    assert 'ETHTOOL_OPTS="-K eth0 gro off"\n' in ifcfg.text
