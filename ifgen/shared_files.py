"""Merge ifgen's keys and table block into files it shares with the system (pure, no I/O)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ifgen.errors import RefusalError
from ifgen.render import BLOCK_BEGIN, BLOCK_END

NETWORK = "etc/sysconfig/network"
RT_TABLES = "etc/iproute2/rt_tables"
SHARED = (NETWORK, RT_TABLES)
# ifgen writes every gateway into ifcfg/route files; a global one would add a second,
# metric-0 default without `src` to every interface whose subnet holds it.
DROPPED_KEYS = ("GATEWAY", "GATEWAYDEV")

_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*?)\s*$")
_TABLE_LINE = re.compile(r"^\s*(0x[0-9a-fA-F]+|\d+)\s+(\S+)")

Pairs = Sequence[tuple[str, str]]


def network_keys(rendered: str) -> list[tuple[str, str]]:
    """The KEY=value pairs of a rendered /etc/sysconfig/network, values as written."""
    pairs = []
    for line in rendered.splitlines():
        found = _ASSIGNMENT.match(line)
        if found and not line.startswith("#"):
            pairs.append((found.group(1), found.group(2)))
    return pairs


def merge_network(current: str, managed: Pairs) -> str:
    """Set the managed keys, drop GATEWAY/GATEWAYDEV, keep every other line byte for byte."""
    wanted = dict(managed)
    done: set[str] = set()
    out = []
    for line in current.splitlines(keepends=True):
        found = _ASSIGNMENT.match(line)
        key = found.group(1) if found else None
        if key is None or line.lstrip().startswith("#"):
            out.append(line)
        elif key in DROPPED_KEYS or key in done:
            continue
        elif key in wanted:
            done.add(key)
            same = found is not None and _unquote(found.group(2)) == _unquote(wanted[key])
            out.append(line if same else f"{key}={wanted[key]}\n")
        else:
            out.append(line)
    missing = [f"{k}={v}\n" for k, v in managed if k not in done]
    return _append(out, missing)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _append(lines: list[str], extra: list[str]) -> str:
    if extra and lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return "".join(lines + extra)


def table_block(rendered: str | None) -> list[str]:
    """The marked block (BEGIN to END line, inclusive) of a rendered rt_tables."""
    if rendered is None:
        return []
    lines = rendered.splitlines(keepends=True)
    span = _block_span(lines)
    return [] if span is None else lines[span[0] : span[1]]


def _block_span(lines: list[str]) -> tuple[int, int] | None:
    begin = next((i for i, line in enumerate(lines) if line.startswith(BLOCK_BEGIN)), None)
    if begin is None:
        return None
    for end in range(begin + 1, len(lines)):
        if lines[end].startswith(BLOCK_END):
            return begin, end + 1
    return None


def merge_rt_tables(current: str, block: list[str], where: str = RT_TABLES) -> str:
    """Replace (or append, or drop when empty) ifgen's block; keep the rest byte for byte."""
    lines = current.splitlines(keepends=True)
    span = _block_span(lines)
    head, tail = (lines, []) if span is None else (lines[: span[0]], lines[span[1] :])
    _check_conflicts(head + tail, block, where)
    if span is None:
        return _append(list(head), block)
    return "".join(head + block + tail)


def _check_conflicts(foreign: list[str], block: list[str], where: str) -> None:
    ours = {_table(line) for line in block} - {None}
    ids = {t[0] for t in ours if t}
    names = {t[1] for t in ours if t}
    problems = []
    for number, line in enumerate(foreign, 1):
        table = _table(line)
        # The very same id and name written twice means one thing; only a clash is ambiguous.
        if table and table not in ours and (table[0] in ids or table[1] in names):
            problems.append(
                f"{where}: line {number}: {line.rstrip()!r} clashes with a table ifgen "
                "defines; remove that line or rename the table in the inventory"
            )
    if problems:
        raise RefusalError("\n".join(problems))


def _table(line: str) -> tuple[int, str] | None:
    found = _TABLE_LINE.match(line)
    if found is None or line.lstrip().startswith("#"):
        return None
    number = found.group(1)
    return int(number, 16 if number.startswith("0x") else 10), found.group(2)


def merge_shared(relpath: str, current: str | None, rendered: str | None) -> str | None:
    """The new text of a shared file, or None when ifgen has nothing to put there."""
    if current is None:
        return rendered
    if relpath == NETWORK:
        return merge_network(current, network_keys(rendered or ""))
    return merge_rt_tables(current, table_block(rendered), relpath)


def is_shared(relpath: str) -> bool:
    """True for the files ifgen edits in place instead of owning."""
    return relpath in SHARED
