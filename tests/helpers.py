"""Shared test helpers: run the CLI in-process, read a rendered tree."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from ifgen.cli import cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GOLDEN = ROOT / "golden"
INVALID = Path(__file__).resolve().parent / "data" / "invalid"


def run(*args: str | Path) -> Result:
    """Run `ifgen ARGS` in-process; stderr is kept apart from stdout."""
    runner = CliRunner()
    return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)


def run_main(*args: str | Path) -> tuple[int, str, str]:
    """Run through ifgen.cli.main (the console entry point), as a user would."""
    import contextlib
    import io

    from ifgen.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:  # pragma: no cover - main always exits
            code = 0
    return code, out.getvalue(), err.getvalue()


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file below root, by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def render_scripts(tmp_path: Path, text: str, host: str = "h1") -> Path:
    """Render an inventory given as TOML text; return that host's network-scripts folder."""
    inventory = tmp_path / "site.toml"
    inventory.write_text(text)
    code, _, err = run_main("render", inventory, "-o", tmp_path / "out", "-q")
    assert code == 0, err
    return tmp_path / "out" / host / "etc/sysconfig/network-scripts"


def body(path: Path) -> list[str]:
    """The lines of a generated file after its header."""
    return path.read_text().splitlines()[1:]
