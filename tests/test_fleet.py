"""Many hosts: --jobs gives the same output for every N, streaming writes, progress bar,
one plan per host, and start-up that imports only what a command uses."""

from __future__ import annotations

import os
import pickle
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import read_tree, run_main

from ifgen.emit import write_tree
from ifgen.errors import EmitError, Problem, ValidationError
from ifgen.render import RenderedFile

# More than MIN_HOSTS_PER_JOB per process for three processes, so --jobs 3 really forks.
HOSTS = 200


def fleet_toml(count: int, broken_expect: int | None = None) -> str:
    """count hosts with aliases, a preferred source, a policy table and, on every third,
    an LVS role; every 50th host carries expectations (one wrong when asked for)."""
    lines = [
        "[groups.web.services.web]",
        'vips = ["172.31.255.10"]',
        'interface = "eth0"',
        "[groups.web.roles]",
        'web = "lvs-dr-realserver"',
    ]
    for n in range(count):
        net = f"10.{n // 250}.{n % 250}"
        lines += [
            f"[hosts.h{n:04d}]",
            f"groups = {['web'] if n % 3 == 0 else []}",
            "tables = { uplink2 = 200 }",
            f"[hosts.h{n:04d}.interfaces.eth0]",
            f'address = "{net}.10/24"',
            f'aliases = ["{net}.11/24"]',
            f'prefer_source = "{net}.11"',
            f'gateway = "{net}.1"',
            f"[hosts.h{n:04d}.interfaces.eth1]",
            f'address = "172.16.{n % 250}.10/24"',
            f'policy = [{{ source = "172.16.{n % 250}.10", table = "uplink2", '
            f'gateway = "172.16.{n % 250}.1" }}]',
        ]
        if n % 50 == 0:
            src = "172.16.0.99" if n == broken_expect else f"{net}.11"
            lines += [
                f"[[hosts.h{n:04d}.expect]]",
                'to = "8.8.8.8"',
                f'src = "{src}"',
            ]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fleet") / "fleet.toml"
    path.write_text(fleet_toml(HOSTS))
    return path


def test_jobs_give_identical_trees_and_messages(fleet: Path, tmp_path: Path) -> None:
    outputs = {}
    for jobs in ("1", "2", "3"):
        out = tmp_path / f"out{jobs}"
        code, stdout, err = run_main("render", fleet, "-o", out, "--jobs", jobs)
        assert (code, err) == (0, "")
        outputs[jobs] = (stdout.replace(str(out), "OUT"), read_tree(out))
    assert outputs["1"] == outputs["2"] == outputs["3"]
    assert outputs["1"][0] == f"rendered {len(outputs['1'][1])} files for {HOSTS} hosts into OUT\n"


def test_check_reports_the_same_drifts_in_host_order_for_every_jobs(
    fleet: Path, tmp_path: Path
) -> None:
    out = tmp_path / "golden"
    assert run_main("render", fleet, "-o", out, "-q")[0] == 0
    for host in ("h0007", "h0150", "h0199"):
        (out / host / "etc/sysconfig/network").write_text("drifted\n")
    results = {jobs: run_main("check", fleet, "--golden", out, "--jobs", jobs) for jobs in "123"}
    assert results["1"] == results["2"] == results["3"]
    code, stdout, err = results["2"]
    assert code == 1
    headers = [line for line in stdout.splitlines() if line.startswith("--- ")]
    assert headers == [f"--- a/{h}/etc/sysconfig/network" for h in ("h0007", "h0150", "h0199")]
    assert err == f"drift: 3 files differ from {out}\n"


def test_check_expectations_in_workers(tmp_path: Path) -> None:
    inventory = tmp_path / "fleet.toml"
    inventory.write_text(fleet_toml(HOSTS, broken_expect=100))
    results = {jobs: run_main("check", inventory, "--jobs", jobs) for jobs in "12"}
    assert results["1"] == results["2"]
    code, stdout, err = results["2"]
    assert code == 1
    assert "8.8.8.8" in stdout and "172.16.0.99" in stdout
    assert err == "expect: 1 of 4 expectations failed\n"


def test_worker_io_failure_exits_3_with_the_path(fleet: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "h0150").write_text("a file where a host directory belongs\n")
    code, stdout, err = run_main("render", fleet, "-o", out, "--jobs", "2", "-q")
    assert code == 3
    assert str(out / "h0150") in err
    assert stdout == ""


def test_errors_survive_the_trip_from_a_worker() -> None:
    error = ValidationError([Problem("site.toml", "hosts.a.expect[0].from", "bad")])
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is ValidationError
    assert back.problems == error.problems and str(back) == str(error)


def test_each_host_with_expectations_is_planned_once(
    fleet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ifgen.plan

    calls: list[str] = []
    real = ifgen.plan._plan

    def counting(host: ifgen.plan.Host) -> ifgen.plan.HostPlan:
        calls.append(host.name)
        return real(host)

    monkeypatch.setattr(ifgen.plan, "_plan", counting)
    monkeypatch.setattr(ifgen.plan, "_REMEMBERED", {})
    out = tmp_path / "out"
    assert run_main("render", fleet, "-o", out, "-q", "--jobs", "1")[0] == 0
    assert run_main("check", fleet, "--golden", out, "--jobs", "1")[0] == 0
    # Validation, render and check each need a plan; a host with expectations gets one
    # (remembered), the others one for render and one for check.
    for n in range(HOSTS):
        assert calls.count(f"h{n:04d}") == (1 if n % 50 == 0 else 2), n


def _run_with_tty_stderr(cwd: Path, *args: str | Path) -> tuple[int, str, str]:
    """Run ifgen with stderr on a pseudo-terminal; return status, stdout, terminal output.

    Outside the checkout (cwd), so that `-m ifgen` finds the installed package.
    """
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ifgen", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=slave,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "100"},
    )
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    stdout, _ = proc.communicate()
    return proc.returncode, stdout.decode(), seen.decode(errors="replace")


def test_progress_bar_only_on_a_terminal(fleet: Path, tmp_path: Path) -> None:
    code, stdout, terminal = _run_with_tty_stderr(tmp_path, "render", fleet, "-o", tmp_path / "a")
    assert code == 0
    assert "rendering" in terminal and "100%" in terminal
    assert stdout.startswith("rendered ")

    code, stdout, terminal = _run_with_tty_stderr(
        tmp_path, "render", fleet, "-o", tmp_path / "b", "-q"
    )
    assert (code, stdout, terminal) == (0, "", "")

    piped = subprocess.run(
        [sys.executable, "-m", "ifgen", "check", str(fleet), "--golden", str(tmp_path / "a")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert (piped.returncode, piped.stderr) == (0, "")


def test_a_new_host_tree_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    root = tmp_path / "out" / "h1"
    files = [RenderedFile("etc/a", "one\n"), RenderedFile("etc/a/b", "cannot be below a file\n")]
    with pytest.raises(EmitError):
        write_tree(root, files)
    assert list((tmp_path / "out").iterdir()) == []

    write_tree(root, [RenderedFile("etc/a", "one\n"), RenderedFile("etc/x", "two\n", 0o600)])
    assert read_tree(root) == {"etc/a": b"one\n", "etc/x": b"two\n"}
    assert (root / "etc/x").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["h1"]


def test_rerender_leaves_unchanged_files_untouched(tmp_path: Path) -> None:
    root = tmp_path / "h1"
    header = "# Generated by ifgen from t.toml for host h1; do not edit.\n"
    write_tree(root, [RenderedFile("etc/a", header + "a\n"), RenderedFile("etc/b", header)])
    before = {name: (root / "etc" / name).stat().st_ino for name in "ab"}
    removed = write_tree(root, [RenderedFile("etc/a", header + "a\n")])
    assert removed == ["etc/b"]
    assert (root / "etc/a").stat().st_ino == before["a"]
    write_tree(root, [RenderedFile("etc/a", header + "changed\n")])
    assert (root / "etc/a").read_text() == header + "changed\n"
    assert not [p for p in (root / "etc").iterdir() if p.name.startswith(".ifgen")]


def _imported(cwd: Path, *args: str) -> set[str]:
    """The modules `python -m ifgen ARGS` imports (run in cwd), from -X importtime."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ifgen", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
    )
    assert proc.returncode == 0, proc.stderr
    return {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_version_and_help_import_nothing_they_do_not_use(tmp_path: Path) -> None:
    for args in (["--version"], ["--help"]):
        modules = _imported(tmp_path, *args)
        assert "click" in modules
        assert not {"jinja2", "netaddr", "shutil", "ifgen.model", "ifgen.plan"} & modules


def test_rendering_json_skips_toml_and_lookup_code(tmp_path: Path) -> None:
    inventory = tmp_path / "one.json"
    inventory.write_text('{"hosts": {"h1": {"interfaces": {"eth0": {"address": "10.0.0.2/24"}}}}}')
    modules = _imported(tmp_path, "render", str(inventory), "-o", str(tmp_path / "out"), "-q")
    assert {"jinja2", "ifgen.render"} <= modules
    unused = {
        "tomllib",
        "dataclasses",
        "ifgen.expect",
        "ifgen.routing",
        "multiprocessing",
    }
    assert not unused & modules


def test_a_scratch_tree_left_by_a_killed_render_is_no_host_and_goes(
    fleet: Path, tmp_path: Path
) -> None:
    out = tmp_path / "golden"
    assert run_main("render", fleet, "-o", out, "-q")[0] == 0
    (out / ".ifgen-tmp-h0001/etc").mkdir(parents=True)
    (out / ".ifgen-tmp-h0001/etc/half").write_text("half-written\n")
    assert run_main("check", fleet, "--golden", out, "-q") == (0, "", "")
    assert run_main("render", fleet, "-o", out, "-q")[0] == 0
    assert not (out / ".ifgen-tmp-h0001").exists()
