"""Compare `explain` with what the kernel answers in a namespace holding the same host."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from netns import Netns

from ifgen.explain import Answer, host_state, lookup
from ifgen.plan import HostPlan
from ifgen.routing import LookupProblem

# (type, dev, gateway, prefsrc, table) as `ip -j route get` reports them.
Verdict = tuple[str, str, str, str, str]


def kernel_answers(ns: Netns, queries: list[tuple[str, str | None]]) -> list[Verdict | None]:
    """Every `ip -j route get` in one `ip -batch` run; None where the kernel refuses."""
    lines = [f"route get {d}" + (f" from {s}" if s else "") for d, s in queries]
    command = ["ip", "netns", "exec", ns.name, "ip", "-j", "-force", "-batch", "-"]
    out = subprocess.run(command, input="\n".join(lines) + "\n", capture_output=True, text=True)
    found: list[Verdict | None] = []
    decoder = json.JSONDecoder()
    text, at = out.stdout, 0
    errors = out.stderr.count("\n")
    answers = []
    while at < len(text.rstrip()):
        value, end = decoder.raw_decode(text, at)
        answers.append(value[0])
        at = end
        while at < len(text) and text[at].isspace():
            at += 1
    assert len(answers) + errors >= len(queries), out.stderr
    it = iter(answers)
    for line in _which_failed(out.stderr, lines):
        found.append(None if line else _verdict(next(it)))
    return found


def _which_failed(stderr: str, lines: list[str]) -> list[bool]:
    # ip -batch names the failing command's line number: "Command failed -:N".
    failed = {int(w.rsplit(":", 1)[1]) for w in stderr.split() if w.startswith("-:")}
    return [n + 1 in failed for n in range(len(lines))]


def _verdict(got: dict[str, object]) -> Verdict:
    return (
        str(got.get("type", "unicast")),
        str(got["dev"]),
        str(got.get("gateway", "")),
        str(got.get("prefsrc", got.get("from", ""))),
        str(got.get("table", "main")),
    )


def model_verdicts(answer: Answer) -> set[Verdict]:
    """Every verdict the kernel may give: one per next hop of the explained route."""
    table = "" if answer.table == "main" else answer.table
    return {
        (
            answer.kind,
            hop.dev,
            str(hop.via or ""),
            str(hop.src or ""),
            table or "main",
        )
        for hop in answer.hops
    }


def destinations(plan: HostPlan) -> list[str]:
    """Addresses worth asking about: the host's own, its subnets' edges, routes, far away."""
    found: set[IPv4Address] = {IPv4Address(a) for a in ("192.0.2.1", "8.8.8.8", "127.0.0.5")}
    nets: list[IPv4Network] = []
    for iface in plan.host.interfaces:
        nets += [a.network for a in iface.addresses()]
        found |= {a.ip for a in iface.addresses()}
    found |= {a.address.ip for a in plan.host.loopback}
    for routes in plan.routes.values():
        for route in routes:
            if route.to is not None:
                nets.append(route.to)
            found |= {h.via for h in route.nexthops} | ({route.via} if route.via else set())
    for net in nets:
        found |= _edges(net)
    return sorted(str(a) for a in found if not a.is_multicast and not a.is_unspecified)


def _edges(net: IPv4Network) -> set[IPv4Address]:
    size = net.num_addresses
    picks = {0, 1, size // 2 - 1, size // 2, size - 2, size - 1}
    return {net.network_address + p for p in picks if 0 <= p < size}


def sources(plan: HostPlan, tree: Path) -> list[str | None]:
    """No source, then every address the host holds."""
    del tree
    return [None, *sorted({str(a) for a in plan.host.addresses()})]


def disagreements(
    ns: Netns, plan: HostPlan, dests: Iterable[str], srcs: Iterable[str | None], without: str | None
) -> list[str]:
    """Each lookup where the kernel's answer is not one `explain` allows."""
    queries = [(d, s) for d in dests for s in srcs if s != without]
    kernel = kernel_answers(ns, queries)
    bad = []
    gone = IPv4Address(without) if without else None
    state = host_state(plan, gone)
    for (dest, src), got in zip(queries, kernel):
        source = IPv4Address(src) if src else None
        try:
            answer = lookup(state, plan.host.name, IPv4Address(dest), source, gone)
        except LookupProblem as exc:
            if got is not None:
                bad.append(f"{dest} from {src}: kernel {got}, explain refuses: {exc}")
            continue
        allowed = model_verdicts(answer)
        if got is None and answer.kind != "unreachable":
            bad.append(f"{dest} from {src} without {without}: kernel refuses, explain {allowed}")
        elif got is not None and got not in allowed:
            bad.append(f"{dest} from {src} without {without}: kernel {got}, explain {allowed}")
    return bad
