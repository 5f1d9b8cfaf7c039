"""Answers to `ip route get` from the offline model: lookup, explanation text and JSON."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

from ifgen.errors import IfgenError
from ifgen.plan import HostPlan
from ifgen.replay import build_state, take_down
from ifgen.routing import (
    MAIN,
    Entry,
    Hop,
    LookupProblem,
    State,
    policy_lookup,
    select_source,
)


@dataclass(frozen=True, slots=True)
class HopAnswer:
    """Where one next hop sends the packet, and with which source address."""

    via: IPv4Address | None
    dev: str
    src: IPv4Address | None


@dataclass(frozen=True, slots=True)
class Answer:
    """What `ip route get DEST [from SRC]` would say, and why."""

    host: str
    dest: IPv4Address
    source: IPv4Address | None
    without: IPv4Address | None
    kind: str
    rule: str
    table: str
    route: str
    hops: tuple[HopAnswer, ...]
    changes: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()

    def values(self, name: str) -> list[str]:
        """Every next hop's value for `via`, `dev` or `src` ("" when it has none)."""
        return sorted({str(getattr(h, name) or "") for h in self.hops})


def explain(
    plan: HostPlan,
    dest: IPv4Address,
    source: IPv4Address | None = None,
    without: IPv4Address | None = None,
) -> Answer:
    """Answer `ip route get DEST [from SOURCE]` for the host as its files leave it."""
    return lookup(host_state(plan, without), plan.host.name, dest, source, without)


def host_state(plan: HostPlan, without: IPv4Address | None = None) -> State:
    """The state after boot, and after `ifdown` of the alias holding WITHOUT."""
    state = build_state(plan)
    if without is not None:
        take_down(state, without)
    return state


def lookup(
    state: State,
    host: str,
    dest: IPv4Address,
    source: IPv4Address | None = None,
    without: IPv4Address | None = None,
) -> Answer:
    """Answer one lookup on a state built by host_state (reused for many lookups)."""
    if source is not None and not state.holds(source):
        raise LookupProblem("from", source, f"not an address of {host}")
    rule, entry = policy_lookup(state, dest, source)
    table = MAIN if entry is not None and state.merged else entry.table if entry else 0
    found = (
        (entry.kind, rule.text, state.table_name(table), entry.text)
        if rule is not None and entry is not None
        else ("unreachable", "", "", "")
    )
    hops = (
        tuple(_hop_answer(state, entry, hop, dest, source) for hop in entry.hops) if entry else ()
    )
    return Answer(
        host,
        dest,
        source,
        without,
        *found,
        hops,
        tuple(state.changes),
        tuple(state.refused),
    )


def explain_args(plan: HostPlan, dest: str, source: str | None, without: str | None) -> Answer:
    """Parse the command line's addresses (bad ones exit 2), then explain."""
    from ifgen import values

    parsed: list[IPv4Address | None] = []
    for flag, text in (("DEST", dest), ("--from", source), ("--without", without)):
        try:
            parsed.append(None if text is None else values.parse_address(text))
        except values.BadValue as exc:
            raise IfgenError(f"{flag}: {exc}") from None
    assert parsed[0] is not None
    return explain(plan, parsed[0], parsed[1], parsed[2])


def _hop_answer(
    state: State, entry: Entry, hop: Hop, dest: IPv4Address, source: IPv4Address | None
) -> HopAnswer:
    if entry.kind == "local":
        return HopAnswer(None, "lo", source or entry.src or dest)
    src = source or entry.src or select_source(state, hop.dev, hop.via, entry.scope)
    return HopAnswer(hop.via, hop.dev, src)


def format_answer(answer: Answer) -> str:
    """The answer as a reviewer reads it."""
    head = f"{answer.host}: {answer.dest}"
    head += f" from {answer.source}" if answer.source else ""
    head += f" without {answer.without}" if answer.without else ""
    lines = [head]
    lines += [f"  after ifdown: {c}" for c in answer.changes]
    lines += [f"  refused at ifup: {r}" for r in answer.refused]
    if answer.kind == "unreachable":
        return "\n".join([*lines, "  unreachable: no rule finds a route (Network is unreachable)"])
    lines += [f"  rule   {answer.rule}", f"  table  {answer.table}", f"  route  {answer.route}"]
    if answer.kind != "unicast":
        lines.append(f"  type   {answer.kind}")
    for hop in answer.hops:
        prefix = "  nexthop " if len(answer.hops) > 1 else "  "
        via = f"via {hop.via} " if hop.via else ""
        lines.append(f"{prefix}{via}dev {hop.dev} src {hop.src}")
    return "\n".join(lines)


def answer_json(answer: Answer) -> dict[str, object]:
    """The answer for a machine reader."""
    return {
        "host": answer.host,
        "dest": str(answer.dest),
        "from": str(answer.source) if answer.source else None,
        "without": str(answer.without) if answer.without else None,
        "type": answer.kind,
        "rule": answer.rule,
        "table": answer.table,
        "route": answer.route,
        "nexthops": [
            {
                "via": str(h.via) if h.via else None,
                "dev": h.dev,
                "src": str(h.src) if h.src else None,
            }
            for h in answer.hops
        ],
        "changes": list(answer.changes),
        "refused": list(answer.refused),
    }
