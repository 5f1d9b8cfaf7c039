"""The command line: thin click commands over the pipeline stages."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import click

from ifgen import __version__
from ifgen.errors import IfgenError

if TYPE_CHECKING:
    from pathlib import Path

    from ifgen.emit import Change, Drift
    from ifgen.model import Host

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
# Below this many hosts a run is too short for a progress bar.
PROGRESS_MIN_HOSTS = 100


class PathType(click.Path):
    """click.Path handing over a pathlib.Path.

    pathlib is imported only once a command runs: `--version` and `--help` stay as cheap
    as click itself.
    """

    def convert(
        self,
        value: str | os.PathLike[str],
        param: click.Parameter | None,
        ctx: click.Context | None,
    ) -> Path:
        """Check the path as click.Path does; return it as a pathlib.Path."""
        from pathlib import Path

        return Path(os.fsdecode(super().convert(value, param, ctx)))


INVENTORY = PathType(exists=False)
JOBS_OPTION = click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    help="Processes that plan, render and write or compare hosts (default: the number of "
    "CPUs; small inventories use one). The output is the same for every value.",
)


@click.group(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  ifgen render site.toml -o golden/          every host's files under golden/<host>/etc/...
  ifgen check site.toml --golden golden/     exit 1 and a diff when golden/ has drifted
  ifgen render site.toml -o out/ --host db1  only db1

Exit status: 0 ok, 1 drift or changes, 2 bad input, 3 I/O failure.
""",
)
@click.version_option(__version__, "--version", prog_name="ifgen")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors and diffs.")
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour diffs.",
)
@click.pass_context
def cli(ctx: click.Context, quiet: bool, color: str) -> None:
    """Turn an inventory of hosts into RHEL initscripts network files.

    INVENTORY is a .toml or .json file, or a directory of them (merged).
    """
    ctx.obj = {"quiet": quiet, "color": None if color == "auto" else color == "always"}


F = TypeVar("F", bound=Callable[..., Any])


def common(func: F) -> F:
    """Let -q and --color follow the verb too (`ifgen render ... -q`)."""

    def remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        root = ctx.find_root()
        if root.obj is None:
            root.obj = {"quiet": False, "color": None}
        if param.name == "quiet" and value:
            root.obj["quiet"] = True
        elif param.name == "color" and value is not None:
            root.obj["color"] = None if value == "auto" else value == "always"
        ctx.obj = root.obj
        return value

    func = click.option(
        "--color",
        type=click.Choice(["auto", "always", "never"]),
        default=None,
        expose_value=False,
        callback=remember,
        help="Colour diffs (default auto).",
    )(func)
    return click.option(
        "-q",
        "--quiet",
        is_flag=True,
        expose_value=False,
        callback=remember,
        help="Print only errors and diffs.",
    )(func)


def _say(ctx: click.Context, message: str) -> None:
    if not ctx.obj["quiet"]:
        click.echo(message)


def _show_diff(ctx: click.Context, text: str) -> None:
    color = ctx.obj["color"]
    for line in text.splitlines():
        style = {"+": "green", "-": "red", "@": "cyan"}.get(line[:1])
        if line.startswith(("+++", "---")):
            style = None
        click.secho(line, fg=style, color=color, bold=line.startswith(("+++", "---")))


@cli.command(
    epilog="""\b
Examples:
  ifgen render examples/basic.toml -o out/
  ifgen render site/ -o golden/ --host db1 --host db2
"""
)
@click.argument("inventory", type=INVENTORY)
@common
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=PathType(),
    help="Directory that receives <host>/etc/...",
)
@click.option("--host", "hosts", multiple=True, help="Only this host (repeatable).")
@JOBS_OPTION
@click.pass_context
def render(
    ctx: click.Context, inventory: Path, output: Path, hosts: tuple[str, ...], jobs: int | None
) -> None:
    """Write every host's files to OUTPUT/<host>/etc/...

    Everything is validated before anything is written; then each host is planned, rendered
    and written in turn. A new OUTPUT/<host>/ appears whole, by rename. In an existing one,
    changed files are replaced by rename and unchanged ones left untouched; files ifgen wrote
    earlier and no longer wants are removed, files ifgen did not write are left alone.
    """
    import functools

    from ifgen.pipeline import load_hosts, map_hosts

    found = load_hosts(inventory, hosts)
    total = 0
    removed: list[str] = []
    with _progress(ctx, len(found), "rendering") as step:
        for name, count, gone in map_hosts(found, functools.partial(_render_one, output), jobs):
            total += count
            removed += [f"{name}/{relpath}" for relpath in gone]
            step()
    for relpath in removed:
        _say(ctx, f"removed {relpath}")
    _say(ctx, f"rendered {total} files for {len(found)} hosts into {output}")


def _render_one(output: Path, host: Host) -> tuple[str, int, list[str]]:
    from ifgen.emit import safe_join, write_tree
    from ifgen.pipeline import host_files

    files = host_files(host)
    return host.name, len(files), write_tree(safe_join(output, host.name), files)


@contextmanager
def _progress(ctx: click.Context, hosts: int, label: str) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr for long runs at a terminal; silent otherwise (and with -q)."""
    if ctx.obj["quiet"] or hosts < PROGRESS_MIN_HOSTS or not sys.stderr.isatty():
        yield lambda: None
        return
    with click.progressbar(length=hosts, label=label, file=sys.stderr) as bar:
        yield lambda: bar.update(1)


@cli.command(
    epilog="""\b
Examples:
  ifgen check site.toml                    validate only
  ifgen check site.toml --golden golden/   validate and compare with the committed files
"""
)
@click.argument("inventory", type=INVENTORY)
@common
@click.option(
    "--golden",
    type=PathType(file_okay=False),
    help="Compare the rendering with this directory byte for byte.",
)
@JOBS_OPTION
@click.pass_context
def check(ctx: click.Context, inventory: Path, golden: Path | None, jobs: int | None) -> None:
    """Validate the inventory and its `expect` entries; with --golden, compare too.

    With --golden, every host is also rendered and compared with GOLDEN/<host>/ byte for byte.
    Exit 0 when everything matches, 1 when an expectation fails or a file is missing, extra
    or different (each shown as a unified diff), 2 when the inventory is invalid.
    """
    import functools

    from ifgen.pipeline import load_hosts, map_hosts

    hosts = load_hosts(inventory)
    # Without --golden only the hosts with expectations need a plan.
    todo = hosts if golden is not None else [h for h in hosts if h.expect]
    expected, failed, drifts = 0, [], []
    with _progress(ctx, len(todo), "checking") as step:
        for count, failures, found in map_hosts(todo, functools.partial(_check_one, golden), jobs):
            expected += count
            failed += failures
            drifts += found
            step()
    for failure in failed:
        click.echo(failure)
    if failed:
        click.echo(f"expect: {len(failed)} of {expected} expectations failed", err=True)
    if golden is not None:
        drifts += _extra_hosts(golden, {h.name for h in hosts})
    for drift in drifts:
        _show_diff(ctx, drift.diff)
    if drifts:
        click.echo(f"drift: {len(drifts)} files differ from {golden}", err=True)
    if drifts or failed:
        ctx.exit(1)
    _say(ctx, f"ok: {len(hosts)} hosts " + (f"match {golden}" if golden else "valid"))


def _check_one(golden: Path | None, host: Host) -> tuple[int, list[str], list[Drift]]:
    """One host's expectation count, failed expectations (printed) and drifts from golden."""
    from ifgen.plan import plan_host

    plan = plan_host(host)
    count, failures = 0, []
    if host.expect:
        from ifgen.expect import evaluate, format_failure

        count, failed = evaluate(plan)
        failures = [format_failure(failure) for failure in failed]
    if golden is None:
        return count, failures, []
    from ifgen.emit import compare_tree, safe_join
    from ifgen.render import render_host

    root = safe_join(golden, host.name)
    return count, failures, compare_tree(root, render_host(plan), prefix=f"{host.name}/")


@cli.command(
    epilog="""\b
Examples:
  ifgen explain site.toml --host db1 192.168.1.1
  ifgen explain site.toml --host db1 192.168.1.1 --without 172.16.3.105
  ifgen explain site.toml --host swipe 8.8.8.8 --from 192.168.12.111 --json
"""
)
@click.argument("inventory", type=INVENTORY)
@click.argument("dest")
@common
@click.option("--host", "host", required=True, help="The host whose lookup to model.")
@click.option("--from", "source", help="Source address, as `ip route get DEST from SRC`.")
@click.option("--without", help="Model `ifdown` of the alias holding this address first.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
def explain(
    inventory: Path, dest: str, host: str, source: str | None, without: str | None, as_json: bool
) -> None:
    """Answer `ip route get DEST` for HOST after a restart, offline: rule, table, route, src.

    Exit 0 with an answer (also "unreachable"), 2 when the input is invalid.
    """
    import json

    from ifgen.explain import answer_json, explain_args, format_answer
    from ifgen.pipeline import load_hosts
    from ifgen.plan import plan_host

    plan = plan_host(load_hosts(inventory, [host])[0])
    answer = explain_args(plan, dest, source, without)
    click.echo(json.dumps(answer_json(answer), indent=2) if as_json else format_answer(answer))


def _extra_hosts(golden: Path, names: set[str]) -> list[Drift]:
    """Every file of a host directory in golden that the inventory no longer has."""
    from ifgen.emit import TMP_PREFIX, compare_tree

    drifts: list[Drift] = []
    if golden.is_dir():
        # A scratch tree left by a killed render is not a host (no host name starts with .).
        found = (p.name for p in golden.iterdir() if not p.name.startswith(TMP_PREFIX))
        for extra in sorted(name for name in found if name not in names):
            drifts += compare_tree(golden / extra, [], prefix=f"{extra}/")
    return drifts


ROOT_OPTION = click.option(
    "--root",
    type=PathType(file_okay=False),
    default="/",
    show_default=True,
    help="The host's filesystem root; files go to ROOT/etc/...",
)
HOST_OPTION = click.option(
    "--host", help="The host in the inventory (default: this machine's short hostname)."
)


def _host_changes(inventory: Path, host: str | None, root: Path) -> list[Change]:
    import socket

    from ifgen.emit import plan_changes
    from ifgen.pipeline import host_files, load_hosts

    name = host or socket.gethostname().split(".", 1)[0]
    try:
        hosts = load_hosts(inventory, [name])
    except IfgenError as exc:
        if host is not None:
            raise
        note = f"(--host defaults to this machine's short hostname, {name!r})"
        raise IfgenError(f"{exc}\n{note}") from exc
    return plan_changes(root, host_files(hosts[0]))


@cli.command(
    epilog="""\b
Examples:
  ifgen diff site.toml                      this host's /etc against the inventory
  ifgen diff site.toml --host db1 --root /mnt/db1 --stat
"""
)
@click.argument("inventory", type=INVENTORY)
@common
@HOST_OPTION
@ROOT_OPTION
@click.option("--stat", is_flag=True, help="Only a per-file summary of changed lines.")
@click.option("--json", "as_json", is_flag=True, help="A JSON list of files and their status.")
@click.pass_context
def diff(
    ctx: click.Context, inventory: Path, host: str | None, root: Path, stat: bool, as_json: bool
) -> None:
    """Show what `apply` would change below ROOT, as a unified diff; nothing is written.

    Exit 0 when nothing would change, 1 when something would, 2 on bad input.
    """
    from ifgen.emit import change_summary, stat_lines

    changes = _host_changes(inventory, host, root)
    if as_json:
        import json

        click.echo(json.dumps(change_summary(changes), indent=2))
    elif stat and changes:
        click.echo("\n".join(stat_lines(changes)))
    else:
        for change in changes:
            _show_diff(ctx, change.diff())
    ctx.exit(1 if changes else 0)


@cli.command(
    epilog="""\b
Examples:
  ifgen diff site.toml && ifgen apply site.toml
  ifgen apply site.toml --host db1 --root /mnt/db1 --force
"""
)
@click.argument("inventory", type=INVENTORY)
@common
@HOST_OPTION
@ROOT_OPTION
@click.option(
    "--backup-dir",
    type=PathType(file_okay=False),
    help="Keep replaced and removed files in D/<UTC time>/ "
    "(default ROOT/var/lib/ifgen/backup/<UTC time>/).",
)
@click.option("--force", is_flag=True, help="Also overwrite files without ifgen's header.")
@click.pass_context
def apply(
    ctx: click.Context,
    inventory: Path,
    host: str | None,
    root: Path,
    backup_dir: Path | None,
    force: bool,
) -> None:
    """Write the host's files below ROOT, each atomically, keeping backups.

    Shared files (/etc/sysconfig/network, /etc/iproute2/rt_tables) are edited in place;
    ifgen's own stale files are removed. Exit 0 nothing to do, 1 changes applied,
    2 bad input or refusal (nothing written), 3 I/O failure (the report says what is done).
    """
    from ifgen.emit import apply_changes, restart_advice

    changes = _host_changes(inventory, host, root)
    saved = apply_changes(root, changes, backup_dir, force)
    for change in changes:
        _say(ctx, f"{'removed' if change.new is None else 'wrote'} {root / change.relpath}")
    if saved is not None:
        _say(ctx, f"backup: {saved}")
    for command in restart_advice(changes):
        _say(ctx, f"needed: {command}")
    _say(ctx, f"{len(changes)} files changed" if changes else "nothing to do")
    ctx.exit(1 if changes else 0)


def _terminal_width() -> int:
    """The terminal width as shutil.get_terminal_size() reports it.

    Click would import shutil (and the compression modules it pulls in) on every run just
    to ask this when it formats --help.
    """
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):  # no stdout, or not a terminal
            columns = 80
    return columns


def main(argv: list[str] | None = None) -> None:
    """Entry point: map ifgen's errors to exit statuses, never a traceback for user mistakes."""
    try:
        code = cli.main(
            args=argv, prog_name="ifgen", standalone_mode=False, terminal_width=_terminal_width()
        )
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except IfgenError as exc:
        click.echo(str(exc), err=True)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
