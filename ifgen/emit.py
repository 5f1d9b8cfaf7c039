"""The only code that touches an output root: atomic writes, tree comparison, diffs."""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ifgen.errors import EmitError
from ifgen.render import HEADER_MARK, RenderedFile

TMP_PREFIX = ".ifgen-tmp-"


def safe_join(root: Path, *parts: str) -> Path:
    """Join below root, refusing any part that would climb out of it."""
    for part in parts:
        if part.startswith("/") or ".." in Path(part).parts or "\x00" in part:
            raise EmitError(f"refusing to write outside the output root: {part!r}")
    return root.joinpath(*parts)


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Write a file so that readers see either the old or the new content, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def is_ifgen_file(path: Path) -> bool:
    """True when the file starts with ifgen's header line."""
    try:
        with path.open("rb") as handle:
            return handle.readline().startswith(HEADER_MARK.encode())
    except OSError:
        return False


def write_tree(root: Path, files: Iterable[RenderedFile]) -> list[str]:
    """Write files below root and remove ifgen's own files that are no longer wanted.

    Returns the relative paths removed. Files without ifgen's header are never removed.
    """
    wanted = set()
    try:
        for item in files:
            wanted.add(item.relpath)
            write_atomic(safe_join(root, item.relpath), item.text, item.mode)
        removed = []
        for old in sorted(_tree_files(root)):
            if old not in wanted and is_ifgen_file(root / old):
                (root / old).unlink()
                removed.append(old)
        return removed
    except OSError as exc:
        raise EmitError(f"cannot write {exc.filename or root}: {exc.strerror or exc}") from exc


def _tree_files(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]


@dataclass(frozen=True, slots=True)
class Drift:
    """One file that differs between a rendering and a tree: missing, extra or changed."""

    relpath: str
    status: str
    diff: str


def unified(old: str | None, new: str | None, relpath: str) -> str:
    """A unified diff with a/ and b/ labels; /dev/null stands for an absent side."""
    before = "/dev/null" if old is None else f"a/{relpath}"
    after = "/dev/null" if new is None else f"b/{relpath}"
    lines = difflib.unified_diff(
        (old or "").splitlines(keepends=True),
        (new or "").splitlines(keepends=True),
        fromfile=before,
        tofile=after,
    )
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def compare_tree(root: Path, files: Iterable[RenderedFile], prefix: str = "") -> list[Drift]:
    """Compare a rendering with the files below root, byte for byte.

    Files below root that the rendering lacks are reported as extra.
    """
    drifts = []
    wanted = {f.relpath: f.text for f in files}
    present = set(_tree_files(root))
    for relpath in sorted(present | set(wanted)):
        new = wanted.get(relpath)
        old = _read_text(root / relpath) if relpath in present else None
        if old == new:
            continue
        status = "missing" if old is None else "extra" if new is None else "changed"
        drifts.append(Drift(prefix + relpath, status, unified(old, new, prefix + relpath)))
    return drifts


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="surrogateescape")
    except OSError as exc:
        raise EmitError(f"cannot read {path}: {exc.strerror}") from exc
