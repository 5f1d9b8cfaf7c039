"""The only code that touches an output root: atomic writes, tree comparison, diffs."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from ifgen.errors import EmitError, RefusalError
from ifgen.render import HEADER_MARK, SCRIPTS, RenderedFile
from ifgen.shared_files import SHARED, is_shared, merge_shared

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
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            # surrogateescape: a merged shared file keeps foreign non-UTF-8 bytes as they were.
            handle.write(text.encode("utf-8", errors="surrogateescape"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # The rename is only durable once the directory entry itself reaches the disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_ifgen_file(path: Path) -> bool:
    """True when the file starts with ifgen's header line."""
    try:
        with path.open("rb") as handle:
            return handle.readline().startswith(HEADER_MARK.encode())
    except OSError:
        return False


def write_tree(root: Path, files: Iterable[RenderedFile]) -> list[str]:
    """Write a review tree below root; remove ifgen's own files that are no longer wanted.

    A new root is written in a scratch directory beside it and renamed into place, so it
    appears whole or not at all. In an existing root each changed file appears by rename,
    whole or not at all; unchanged files are left untouched. No fsync: this is an output
    directory for review and golden files, not a live /etc (apply is durable).
    Returns the relative paths removed. Files without ifgen's header are never removed.
    """
    try:
        if not os.path.lexists(root):
            _write_fresh(root, files)
            return []
        _remove_scratch(root)
        wanted = set()
        made: set[Path] = set()
        for item in files:
            wanted.add(item.relpath)
            path = safe_join(root, item.relpath)
            if path.parent not in made:
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(path.parent)
            data = item.text.encode("utf-8")
            if not _same_file(path, data, item.mode):
                _write_replace(path, data, item.mode)
        return _prune(root, wanted)
    except OSError as exc:
        raise EmitError(f"cannot write {exc.filename or root}: {exc.strerror or exc}") from exc


def _remove_scratch(root: Path) -> Path:
    """Remove the scratch tree an interrupted run may have left beside root; return its path."""
    scratch = root.with_name(TMP_PREFIX + root.name)
    if os.path.lexists(scratch):  # only ifgen uses that name (no host name starts with .)
        shutil.rmtree(scratch)
    return scratch


def _write_fresh(root: Path, files: Iterable[RenderedFile]) -> None:
    scratch = _remove_scratch(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    os.mkdir(scratch)
    made = {"."}
    try:
        for item in files:
            path = safe_join(scratch, item.relpath)
            # Parents first, each once: no failed mkdir calls in a tree of thousands.
            parts = item.relpath.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                folder = "/".join(parts[:depth])
                if folder not in made:
                    os.mkdir(scratch / folder)
                    made.add(folder)
            _write_new(path, item.text.encode("utf-8"), item.mode)
        os.rename(scratch, root)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def _write_new(path: Path, data: bytes, mode: int) -> None:
    # Plain os calls: a Python file object adds three system calls per file.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if mode & ~_umask() != mode:
            os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _umask() -> int:
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0o022)
        os.umask(_UMASK)
    return _UMASK


_UMASK: int | None = None


def _same_file(path: Path, data: bytes, mode: int) -> bool:
    try:
        if path.stat().st_mode & 0o7777 != mode:
            return False
        with open(path, "rb") as handle:
            return handle.read(len(data) + 1) == data
    except OSError:
        return False


def _write_replace(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(TMP_PREFIX + path.name)
    tmp.unlink(missing_ok=True)  # left by an interrupted run
    try:
        _write_new(tmp, data, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _prune(root: Path, wanted: set[str]) -> list[str]:
    removed = []
    for old in sorted(_tree_files(root)):
        if old not in wanted and is_ifgen_file(root / old):
            (root / old).unlink()
            removed.append(old)
    return removed


def _tree_files(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]


class Drift(NamedTuple):
    """One file that differs between a rendering and a tree: missing, extra or changed."""

    relpath: str
    status: str
    diff: str


def unified(old: str | None, new: str | None, relpath: str) -> str:
    """A unified diff with a/ and b/ labels; /dev/null stands for an absent side."""
    import difflib

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


# --- diff and apply on a host's root -------------------------------------------------------

# Only these directories hold whole files ifgen owns; stale ones there may be removed.
PRUNE_DIRS = (SCRIPTS, "etc/sysctl.d")
BACKUP_BASE = "var/lib/ifgen/backup"


class Change(NamedTuple):
    """One file `apply` would write or remove below a root; None stands for absent."""

    relpath: str
    old: str | None
    new: str | None
    foreign: bool = False

    @property
    def status(self) -> str:
        """`new`, `removed` or `changed`."""
        return "new" if self.old is None else "removed" if self.new is None else "changed"

    def diff(self) -> str:
        """The change as a unified diff with a/ and b/ labels."""
        return unified(self.old, self.new, self.relpath)


def plan_changes(root: Path, files: Iterable[RenderedFile]) -> list[Change]:
    """Everything `apply` would do below root: owned files, merged shared files, removals."""
    wanted = {f.relpath: f.text for f in files}
    changes = []
    for relpath in sorted(set(wanted) | set(SHARED)):
        change = _change_for(root, relpath, wanted.get(relpath))
        if change is not None:
            changes.append(change)
    changes += _stale_files(root, set(wanted))
    return sorted(changes, key=lambda c: c.relpath)


def _change_for(root: Path, relpath: str, rendered: str | None) -> Change | None:
    path = safe_join(root, relpath)
    old = _read_text(path) if path.exists() else None
    new = merge_shared(relpath, old, rendered) if is_shared(relpath) else rendered
    if old == new:
        return None
    owned = is_shared(relpath) or old is None or old.startswith(HEADER_MARK)
    return Change(relpath, old, new, foreign=not owned)


def _stale_files(root: Path, wanted: set[str]) -> list[Change]:
    stale = []
    for directory in PRUNE_DIRS:
        folder = safe_join(root, directory)
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            relpath = f"{directory}/{path.name}"
            if relpath in wanted or path.is_symlink() or not path.is_file():
                continue
            if is_ifgen_file(path):
                stale.append(Change(relpath, _read_text(path), None))
    return stale


def apply_changes(
    root: Path, changes: list[Change], backup: Path | None, force: bool
) -> Path | None:
    """Back up, then write or remove each file atomically; return the backup directory.

    Refuses (nothing written) when a file without ifgen's header would be overwritten and
    force is off. On an I/O failure stops and says which files are done and which are not.
    """
    foreign = [c.relpath for c in changes if c.foreign]
    if foreign and not force:
        listing = "".join(f"\n  {root / p}" for p in foreign)
        raise RefusalError(
            f"refusing to overwrite files ifgen did not write (no '{HEADER_MARK}' line);"
            f" nothing was changed:{listing}\nreview them with `ifgen diff`, then re-run"
            " with --force"
        )
    saved = _back_up(root, [c.relpath for c in changes if c.old is not None], backup)
    for number, change in enumerate(changes):
        try:
            _apply_one(safe_join(root, change.relpath), change.new)
        except OSError as exc:
            raise EmitError(_partial_report(root, changes, number, exc, saved)) from exc
    return saved


def _apply_one(path: Path, text: str | None) -> None:
    if text is None:
        path.unlink()
        _fsync_dir(path.parent)
    else:
        write_atomic(path, text)


def _partial_report(
    root: Path, changes: list[Change], failed: int, exc: OSError, saved: Path | None
) -> str:
    done = [c.relpath for c in changes[:failed]]
    left = [c.relpath for c in changes[failed:]]
    lines = [
        f"cannot write {root / changes[failed].relpath}: {exc.strerror or exc}",
        "every file is either entirely old or entirely new:",
        *(f"  applied      {p}" for p in done),
        *(f"  not applied  {p}" for p in left),
    ]
    if saved is not None:
        lines.append(f"backup of the replaced files: {saved}")
    lines.append("fix the cause and run the same command again to finish")
    return "\n".join(lines)


def _back_up(root: Path, relpaths: list[str], base: Path | None) -> Path | None:
    if not relpaths:
        return None
    try:
        target = _fresh_dir(base if base is not None else root / BACKUP_BASE)
        for relpath in relpaths:
            dest = safe_join(target, relpath)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(safe_join(root, relpath), dest)
    except OSError as exc:
        raise EmitError(
            f"cannot back up to {exc.filename or base}: {exc.strerror or exc}; nothing was changed"
        ) from exc
    return target


def _fresh_dir(base: Path) -> Path:
    import datetime

    # Two runs in the same second must not mix their backups.
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(1000):
        target = base / (stamp if attempt == 0 else f"{stamp}-{attempt}")
        try:
            target.mkdir(parents=True)
            return target
        except FileExistsError:
            continue
    raise EmitError(f"cannot find a free backup directory name in {base}")


def restart_advice(changes: Iterable[Change]) -> list[str]:
    """The commands that make the kernel match the changed files."""
    from ifgen.model import device_sort_key

    devices: set[str] = set()
    shared, sysctl = False, False
    for change in changes:
        folder, _, name = change.relpath.rpartition("/")
        kind, _, device = name.partition("-")
        if folder == SCRIPTS and kind in ("ifcfg", "route", "rule") and device:
            # ifup DEV brings up DEV's aliases and flushes the ones no file describes.
            devices.add(device.split(":")[0])
        shared = shared or is_shared(change.relpath)
        sysctl = sysctl or folder == "etc/sysctl.d"
    advice = ["service network restart"] if shared else []
    if not shared:
        advice += [f"ifdown {d}; ifup {d}" for d in sorted(devices, key=device_sort_key)]
    return advice + (["sysctl --system"] if sysctl else [])


def change_summary(changes: Iterable[Change]) -> list[dict[str, object]]:
    """One entry per file for --json: path, status, foreign, added and removed lines."""
    out: list[dict[str, object]] = []
    for change in changes:
        added, removed = _line_counts(change.diff())
        out.append(
            {
                "path": change.relpath,
                "status": change.status,
                "foreign": change.foreign,
                "added": added,
                "removed": removed,
            }
        )
    return out


def _line_counts(diff: str) -> tuple[int, int]:
    lines = [line for line in diff.splitlines() if not line.startswith(("+++", "---"))]
    return sum(1 for x in lines if x[:1] == "+"), sum(1 for x in lines if x[:1] == "-")


def stat_lines(changes: Iterable[Change]) -> list[str]:
    """A `git diff --stat` style summary: one line per file and a total."""
    counted = [(c.relpath, *_line_counts(c.diff())) for c in changes]
    width = max((len(path) for path, _, _ in counted), default=0)
    lines = [
        f" {path:<{width}} | {added + removed:>3} {'+' * added}{'-' * removed}"
        for path, added, removed in counted
    ]
    plus, minus = sum(c[1] for c in counted), sum(c[2] for c in counted)
    lines.append(f" {len(counted)} files changed, {plus} insertions(+), {minus} deletions(-)")
    return lines
