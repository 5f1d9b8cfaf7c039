"""Declared lookup answers (`expect`): read them, check them against the offline lookup."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ifgen import values as v
from ifgen.errors import Problem, ValidationError
from ifgen.model import Expect, Host

if TYPE_CHECKING:
    from ifgen.explain import Answer
    from ifgen.inventory import Key
    from ifgen.plan import HostPlan
    from ifgen.validate import Reader

T = TypeVar("T")
EXPECT_KEYS = ("to", "from", "without", "src", "via", "dev", "table")


def read_expectations(r: Reader, data: dict[str, Any]) -> tuple[Expect, ...]:
    """The host's `expect` list, every entry validated."""
    found = []
    for at, item in r.items(("expect",), data.get("expect", [])):
        entry = r.mapping(at, item, EXPECT_KEYS)
        if "to" not in entry:
            if isinstance(item, dict):
                r.fail(at, "an expect entry needs 'to' (the destination address)")
            continue
        to = r.get(at, entry, "to", v.parse_address)
        if to is None:
            continue
        file, path = r.layered.locate(at)
        found.append(
            Expect(
                to=to,
                from_=r.get(at, entry, "from", v.parse_address),
                without=r.get(at, entry, "without", v.parse_address),
                src=_several(r, at, entry, "src", v.parse_address),
                via=_several(r, at, entry, "via", v.parse_address),
                dev=_several(r, at, entry, "dev", _parse_dev),
                table=r.get(at, entry, "table", _parse_table),
                origin=f"{file}: {path}",
            )
        )
    return tuple(found)


def _parse_dev(value: Any) -> str:
    text = v.want_str(value, "a device name")
    return text if text == "lo" else v.parse_device(text)


def _parse_table(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(v.parse_int(value, 0, 2**32 - 1))
    text = v.want_str(value, "a table name or number")
    return text if text in ("local", "main", "default") else v.parse_table_name(text)


def _several(
    r: Reader, at: Key, entry: dict[str, Any], key: str, parse: Callable[[Any], T]
) -> tuple[T, ...]:
    """One value, or a list of them (the next hops of a multipath route)."""
    if key not in entry:
        return ()
    raw = entry[key]
    items = r.items((*at, key), raw) if isinstance(raw, list) else [((*at, key), raw)]
    parsed = [r.parse(where, item, parse) for where, item in items]
    return tuple(p for p in parsed if p is not None)


def check_expectations(r: Reader, host: Host) -> None:
    """Each `from` must be an address the host holds, each `without` one of its aliases."""
    from ifgen.explain import host_state
    from ifgen.plan import plan_host
    from ifgen.routing import LookupProblem

    plan = plan_host(host)
    states = {}
    for index, entry in enumerate(host.expect):
        try:
            if entry.without not in states:
                states[entry.without] = host_state(plan, entry.without)
        except LookupProblem as exc:
            r.fail(("expect", index, exc.key), f"{str(exc.value)!r} is {exc.message}")
            continue
        if entry.from_ is not None and not states[entry.without].holds(entry.from_):
            gone = f" once {entry.without} is down" if entry.without else ""
            r.fail(
                ("expect", index, "from"),
                f"{str(entry.from_)!r} is not an address of {host.name}{gone}",
            )


@dataclass(frozen=True, slots=True)
class Failure:
    """One expectation the offline lookup does not meet."""

    expect: Expect
    answer: Answer
    mismatches: tuple[str, ...]


def evaluate(plan: HostPlan) -> tuple[int, list[Failure]]:
    """Check every expectation of the host; return how many there were and the failures."""
    from ifgen.explain import explain
    from ifgen.routing import LookupProblem

    failures = []
    for entry in plan.host.expect:
        try:
            answer = explain(plan, entry.to, entry.from_, entry.without)
        except LookupProblem as exc:
            file, _, path = entry.origin.partition(": ")
            problem = Problem(file, f"{path}.{exc.key}", f"{str(exc.value)!r}: {exc.message}")
            raise ValidationError([problem]) from None
        wrong = mismatches(entry, answer)
        if wrong:
            failures.append(Failure(entry, answer, tuple(wrong)))
    return len(plan.host.expect), failures


def mismatches(entry: Expect, answer: Answer) -> list[str]:
    """What differs between the declared answer and the lookup."""
    wrong = []
    if answer.kind == "unreachable":
        return ["the destination is unreachable"]
    for name in ("src", "via", "dev"):
        want = sorted({str(x) for x in getattr(entry, name)})
        if want and want != answer.values(name):
            got = " and ".join(x or "none" for x in answer.values(name))
            wrong.append(f"{name} is {got}, expected {' and '.join(want)}")
    if entry.table is not None and entry.table != answer.table:
        wrong.append(f"table is {answer.table}, expected {entry.table}")
    return wrong


def format_failure(failure: Failure) -> str:
    """The failure and the whole explanation, for the `check` report."""
    from ifgen.explain import format_answer

    origin, host = failure.expect.origin, failure.answer.host
    # A group's or the defaults' entry is checked on every member: say which one failed.
    where = origin if f": hosts.{host}." in origin else f"{origin} (host {host})"
    head = f"expect failed: {where}: " + "; ".join(failure.mismatches)
    body = "\n".join("  " + line for line in format_answer(failure.answer).splitlines())
    return f"{head}\n{body}"
