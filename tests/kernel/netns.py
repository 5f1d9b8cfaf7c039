"""Bring a rendered host tree up in a throwaway network namespace, the way ifup does.

Order (initscripts-facts §1): lo and its aliases first, then each device in natural order:
link and MTU, the primary address (label DEV), the GATEWAY default, the aliases in glob
order (label DEV:N), then every line of route-DEV and rule-DEV. A failing line is recorded
and the bring-up goes on, as ifup-routes does.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPTS = "etc/sysconfig/network-scripts"
_counter = itertools.count()


def netns_unavailable() -> str | None:
    """Why kernel tests cannot run here, or None when they can."""
    if shutil.which("ip") is None:
        return "iproute2 'ip' is not installed"
    if os.geteuid() != 0:
        return "kernel tests need root (ip netns add)"
    probe = f"ifgen-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def source_ifcfg(path: Path) -> dict[str, str]:
    """The variables a file defines when bash sources it (as ifup does)."""
    out = subprocess.run(
        ["bash", "-c", 'set -a; . "$1"; env -0', "-", str(path)],
        env={},
        capture_output=True,
        check=True,
    ).stdout.decode()
    pairs = dict(item.split("=", 1) for item in out.split("\0") if item)
    return {k: v for k, v in pairs.items() if k.isupper() and k not in ("PWD", "SHLVL", "_")}


def _natural(name: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def _lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        text = line.strip()
        if text and not text.startswith("#"):
            found.append(text)
    return found


@dataclass
class Netns:
    """A namespace holding the host and a peer namespace holding the far ends of its links."""

    name: str
    peer: str
    errors: list[str] = field(default_factory=list)
    # Device in the host namespace → name of its veth far end in the peer namespace.
    far_ends: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command inside the host namespace."""
        return subprocess.run(
            ["ip", "netns", "exec", self.name, *args], capture_output=True, text=True, check=check
        )

    def ip(self, *args: str) -> bool:
        """Run `ip ARGS` inside; record a failure as ifup-routes would print it, and go on."""
        result = self.run("ip", *args, check=False)
        if result.returncode != 0:
            self.errors.append(f"ip {' '.join(args)}: {result.stderr.strip()}")
        return result.returncode == 0

    def add_link(self, device: str) -> None:
        """A veth pair: DEV in the host namespace, its far end (up) in the peer namespace."""
        far = f"p{next(_counter)}"
        self.far_ends[device] = far
        subprocess.run(
            [
                "ip",
                "link",
                "add",
                device,
                "netns",
                self.name,
                "type",
                "veth",
                "peer",
                "name",
                far,
                "netns",
                self.peer,
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(["ip", "-n", self.peer, "link", "set", far, "up"], check=True)

    def route_get(self, dest: str, *extra: str) -> dict[str, Any]:
        """`ip -j route get DEST [from SRC ...]` as a dict."""
        out = self.run("ip", "-j", "route", "get", dest, *extra)
        result: list[dict[str, Any]] = json.loads(out.stdout)
        return result[0]

    def sysctl(self, key: str) -> str:
        """Read a sysctl inside the namespace."""
        return self.run("sysctl", "-n", key).stdout.strip()


@contextmanager
def namespace() -> Iterator[Netns]:
    """A fresh host namespace plus peer namespace, deleted afterwards."""
    tag = f"ifgen-{os.getpid()}-{next(_counter)}"
    ns = Netns(tag, tag + "-peer")
    subprocess.run(["ip", "netns", "add", ns.name], check=True)
    subprocess.run(["ip", "netns", "add", ns.peer], check=True)
    try:
        subprocess.run(["ip", "-n", ns.peer, "link", "set", "lo", "up"], check=True)
        yield ns
    finally:
        shutil.rmtree(Path("/etc/netns") / ns.name, ignore_errors=True)
        subprocess.run(["ip", "netns", "del", ns.name], check=False)
        subprocess.run(["ip", "netns", "del", ns.peer], check=False)


def _add_address(ns: Netns, device: str, cfg: dict[str, str], label: str) -> None:
    if "IPADDR" not in cfg:
        return
    address = f"{cfg['IPADDR']}/{cfg.get('PREFIX', '32')}"
    brd = cfg.get("BROADCAST", "+")
    ns.ip("addr", "add", address, "brd", brd, "dev", device, "label", label)


def _aliases(scripts: Path, device: str) -> list[Path]:
    # ifup-aliases walks `ifcfg-DEV:*` in shell glob order (:1, :10, :2).
    return sorted(scripts.glob(f"ifcfg-{device}:*"), key=lambda p: p.name)


def ifup_routes(ns: Netns, scripts: Path, device: str) -> None:
    """route-DEV then rule-DEV, each line handed to `ip route add` / `ip rule add`."""
    for line in _lines(scripts / f"route-{device}"):
        ns.ip("route", "add", *line.split())
    for line in _lines(scripts / f"rule-{device}"):
        ns.ip("rule", "add", *line.split())
    for line in _lines(scripts / f"route6-{device}"):
        ns.ip("-6", "route", "add", *line.split())
    for line in _lines(scripts / f"rule6-{device}"):
        ns.ip("-6", "rule", "add", *line.split())


def ifup_ipv6(ns: Netns, device: str, cfg: dict[str, str]) -> None:
    """ifup-ipv6: the addresses (nodad: a veth peer never answers) and the default route."""
    addresses = [cfg[k] for k in ("IPV6ADDR",) if k in cfg]
    addresses += cfg.get("IPV6ADDR_SECONDARIES", "").split()
    for address in addresses:
        ns.ip("-6", "addr", "add", address, "dev", device, "nodad")
    if "IPV6_DEFAULTGW" in cfg:
        gateway = cfg["IPV6_DEFAULTGW"].split("%", 1)[0]
        ns.ip("-6", "route", "replace", "default", "via", gateway, "dev", device)


def ifup_device(ns: Netns, scripts: Path, device: str) -> None:
    """ifup-eth, ifup-aliases and ifup-routes for one device (links must exist)."""
    cfg = source_ifcfg(scripts / f"ifcfg-{device}") if device != "lo" else {}
    if "MTU" in cfg:
        ns.ip("link", "set", "dev", device, "mtu", cfg["MTU"])
    ns.ip("link", "set", "dev", device, "up")
    _add_address(ns, device, cfg, device)
    if "GATEWAY" in cfg and cfg.get("DEFROUTE") != "no":
        args = ["route", "replace", "default"]
        if "METRIC" in cfg:
            args += ["metric", cfg["METRIC"]]
        ns.ip(*args, "via", cfg["GATEWAY"], "dev", device)
    for alias in _aliases(scripts, device):
        alias_cfg = source_ifcfg(alias)
        _add_address(ns, device, alias_cfg, alias_cfg["DEVICE"])
    if cfg.get("IPV6INIT") == "yes":
        ifup_ipv6(ns, device, cfg)
    ifup_routes(ns, scripts, device)


def devices(tree: Path) -> list[str]:
    """The devices the network service brings up, in its order (plain devices, then VLANs)."""
    names = [p.name[len("ifcfg-") :] for p in (tree / SCRIPTS).glob("ifcfg-*")]
    plain = [n for n in names if ":" not in n and n != "lo"]
    return sorted(plain, key=lambda n: ("." in n, _natural(n)))


def apply_sysctls(ns: Netns, tree: Path) -> None:
    """Every key of etc/sysctl.d/*.conf written with sysctl -w inside the namespace."""
    for conf in sorted((tree / "etc/sysctl.d").glob("*.conf")):
        for line in _lines(conf):
            key, value = (part.strip() for part in line.split("=", 1))
            result = ns.run("sysctl", "-w", f"{key}={value}", check=False)
            if result.returncode != 0:
                ns.errors.append(f"sysctl {key}: {result.stderr.strip()}")


def install_rt_tables(ns: Netns, tree: Path) -> None:
    """Make the host's rt_tables what `ip` reads inside the namespace.

    `ip netns exec NS` bind-mounts /etc/netns/NS/* over /etc/*, so table names resolve
    exactly as they would on the host after the files are installed.
    """
    source = tree / "etc/iproute2"
    if source.is_dir():
        shutil.copytree(source, Path("/etc/netns") / ns.name / "iproute2", dirs_exist_ok=True)


def bring_up(ns: Netns, tree: Path, make_links: bool = True) -> None:
    """`service network start` for one rendered host tree (TREE/etc/...)."""
    scripts = tree / SCRIPTS
    install_rt_tables(ns, tree)
    names = devices(tree)
    if make_links:
        for device in names:
            ns.add_link(device)
    apply_sysctls(ns, tree)
    ifup_device(ns, scripts, "lo")
    for device in names:
        ifup_device(ns, scripts, device)
    apply_sysctls(ns, tree)


def ifdown_alias(ns: Netns, tree: Path, alias: str) -> None:
    """`ifdown DEV:N`: flush that label's addresses, then remove the parent's rules."""
    cfg = source_ifcfg(tree / SCRIPTS / f"ifcfg-{alias}")
    device = alias.split(":", 1)[0]
    ns.ip("addr", "del", f"{cfg['IPADDR']}/{cfg.get('PREFIX', '32')}", "dev", device)
    for line in _lines(tree / SCRIPTS / f"rule-{device}"):
        ns.ip("rule", "del", *line.split())
