"""Read TOML/JSON inventory files or directories into merged per-host mappings."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ifgen.errors import InventoryError, Problem

TOP_KEYS = ("defaults", "groups", "hosts")
SUFFIXES = (".toml", ".json")
_SIMPLE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

Key = tuple[str | int, ...]


def format_path(keys: Key) -> str:
    """Format a key path as `hosts.db1.interfaces.eth0.routes[2].via`."""
    out = ""
    for key in keys:
        if isinstance(key, int):
            out += f"[{key}]"
            continue
        text = key if _SIMPLE_KEY.match(key) else json.dumps(key)
        out += f".{text}" if out else text
    return out


class Origin(NamedTuple):
    """Where a value was written: a file and the key path inside it."""

    file: str
    keys: Key


class Section(NamedTuple):
    """One mapping of the inventory (defaults, a group or a host) and its origin."""

    data: dict[str, Any]
    origin: Origin


class Layered:
    """A merged mapping plus, for every node, the origin of the value that won."""

    __slots__ = ("data", "origins")

    def __init__(self, data: dict[str, Any], origins: dict[Key, Origin] | None = None) -> None:
        self.data = data
        self.origins: dict[Key, Origin] = {} if origins is None else origins

    def locate(self, keys: Key) -> tuple[str, str]:
        """Return (file, printed key path) for a path into the merged data."""
        for cut in range(len(keys), -1, -1):
            origin = self.origins.get(keys[:cut])
            if origin is not None:
                return origin.file, format_path(origin.keys + keys[cut:])
        return "", format_path(keys)


class Inventory:
    """Everything read from the inventory argument, not yet validated."""

    __slots__ = ("name", "defaults", "groups", "hosts")

    def __init__(
        self,
        name: str,
        defaults: list[Section] | None = None,
        groups: dict[str, Section] | None = None,
        hosts: dict[str, Section] | None = None,
    ) -> None:
        self.name = name
        self.defaults: list[Section] = defaults or []
        self.groups: dict[str, Section] = groups or {}
        self.hosts: dict[str, Section] = hosts or {}


def load_inventory(path: Path) -> Inventory:
    """Read a file or a directory of files; raise InventoryError listing every problem."""
    files, base = _inventory_files(path)
    inventory = Inventory(name=_display(path, base))
    problems: list[Problem] = []
    for file in files:
        display = _display(file, base)
        data = _parse_file(file, display, problems)
        if data is not None:
            _add_document(inventory, display, data, problems)
    if problems:
        raise InventoryError(problems)
    return inventory


def _display(file: Path, base: Path) -> str:
    try:
        return file.relative_to(base).as_posix()
    except ValueError:
        return file.name


def _inventory_files(path: Path) -> tuple[list[Path], Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        if not files:
            raise InventoryError(
                [Problem(path.name, "", "no .toml or .json file in this directory")]
            )
        return files, path.parent
    if not path.exists():
        raise InventoryError([Problem(path.name, "", f"no such file or directory: {str(path)!r}")])
    if path.suffix not in SUFFIXES:
        message = f"unsupported file type {path.suffix!r}; expected .toml or .json"
        raise InventoryError([Problem(path.name, "", message)])
    return [path], path.parent


def _parse_file(file: Path, display: str, problems: list[Problem]) -> dict[str, Any] | None:
    try:
        raw = file.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(display, "", f"cannot read: {exc}"))
        return None
    if file.suffix == ".json":
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(Problem(display, "", f"invalid JSON: {exc}"))
            return None
    else:
        # Imported here: a JSON inventory does not pay for the TOML parser.
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - exercised only on old interpreters
            import tomli as tomllib
        try:
            data = tomllib.loads(raw)
        except tomllib.TOMLDecodeError as exc:
            problems.append(Problem(display, "", f"invalid TOML: {exc}"))
            return None
    if not isinstance(data, dict):
        problems.append(Problem(display, "", "the top level must be a table/object"))
        return None
    return data


def _add_document(inv: Inventory, file: str, data: dict[str, Any], problems: list[Problem]) -> None:
    from ifgen.suggest import unknown_key_message

    for key, value in data.items():
        if key not in TOP_KEYS:
            problems.append(Problem(file, format_path((key,)), unknown_key_message(key, TOP_KEYS)))
            continue
        if not isinstance(value, dict):
            problems.append(Problem(file, key, f"expected a table, got {type(value).__name__}"))
            continue
        if key == "defaults":
            inv.defaults.append(Section(value, Origin(file, ("defaults",))))
            continue
        target = inv.groups if key == "groups" else inv.hosts
        for name, body in value.items():
            _add_named(target, key, name, body, file, problems)


def _add_named(
    target: dict[str, Section],
    kind: str,
    name: str,
    body: Any,
    file: str,
    problems: list[Problem],
) -> None:
    path = format_path((kind, name))
    if not isinstance(body, dict):
        problems.append(Problem(file, path, f"expected a table, got {type(body).__name__}"))
    elif name in target:
        first = target[name].origin.file
        problems.append(Problem(file, path, f"defined twice (also in {first})"))
    else:
        target[name] = Section(body, Origin(file, (kind, name)))


def merge_sections(sections: list[Section], problems: list[Problem]) -> Layered:
    """Deep-merge sections in order (later wins); mappings merge, lists and scalars replace.

    Two sections of the same kind (two groups) that set one value differently is a conflict.
    """
    merged = Layered({})
    for section in sections:
        _merge_into(merged, merged.data, section.data, (), section.origin, problems)
    return merged


def _merge_into(
    merged: Layered,
    target: dict[str, Any],
    source: Mapping[str, Any],
    keys: Key,
    origin: Origin,
    problems: list[Problem],
) -> None:
    for name, value in source.items():
        here = (*keys, name)
        where = Origin(origin.file, (*origin.keys, name))
        old = target.get(name)
        if isinstance(value, dict) and isinstance(old, dict):
            merged.origins[here] = where
            _merge_into(merged, old, value, here, where, problems)
            continue
        previous = merged.origins.get(here)
        if previous is not None and _conflict(previous, where) and old != value:
            message = (
                f"{value!r} conflicts with {old!r} set by "
                f"{format_path(previous.keys)} in {previous.file}"
            )
            problems.append(Problem(where.file, format_path(where.keys), message))
        target[name] = _copy(value)
        merged.origins[here] = where
        for sub in _walk(value, ()):
            merged.origins[(*here, *sub)] = Origin(where.file, (*where.keys, *sub))


def _conflict(previous: Origin, new: Origin) -> bool:
    """Same-kind layers (group vs group, defaults vs defaults) must agree."""
    return (
        previous.keys[:1] == new.keys[:1]
        and previous.keys[:2] != new.keys[:2]
        or (previous.keys[:1] == new.keys[:1] == ("defaults",) and previous.file != new.file)
    )


def _walk(value: Any, keys: Key) -> Iterator[Key]:
    if isinstance(value, dict):
        for name, sub in value.items():
            yield (*keys, name)
            yield from _walk(sub, (*keys, name))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield (*keys, index)
            yield from _walk(sub, (*keys, index))


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
