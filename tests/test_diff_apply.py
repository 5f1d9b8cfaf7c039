"""diff and apply on a host root: merged shared files, refusals, pruning, atomicity."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import EXAMPLES, read_tree, run_main

from ifgen.errors import RefusalError
from ifgen.shared_files import merge_network, merge_rt_tables

BASIC = EXAMPLES / "basic.toml"
FIXTURES = Path(__file__).resolve().parent / "data" / "etc-fixtures"
SCRIPTS = "etc/sysconfig/network-scripts"
HOST = ("--host", "app1")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of a hand-configured RHEL host's /etc, before ifgen."""
    target = tmp_path / "root"
    shutil.copytree(FIXTURES / "app1", target, symlinks=True)
    return target


def ifgen(*args: str | Path) -> tuple[int, str, str]:
    return run_main(*args)


def no_temp_files(root: Path) -> bool:
    return not [p for p in root.rglob("*") if p.name.startswith(".ifgen-tmp-")]


def etc(root: Path) -> dict[str, bytes]:
    return read_tree(root / "etc")


def test_walkthrough_diff_refuse_force_idempotent(root: Path, tmp_path: Path) -> None:
    before = etc(root)
    code, out, err = ifgen("diff", BASIC, *HOST, "--root", root)
    assert (code, err) == (1, "")
    assert "--- a/etc/sysconfig/network\n+++ b/etc/sysconfig/network\n" in out
    assert "-GATEWAY=10.0.0.1\n" in out
    assert f"--- a/{SCRIPTS}/ifcfg-eth0:3\n+++ /dev/null\n" in out
    assert f"--- /dev/null\n+++ b/{SCRIPTS}/route-eth0\n" in out

    code, out, err = ifgen("apply", BASIC, *HOST, "--root", root)
    assert code == 2
    assert "refusing to overwrite files ifgen did not write" in err
    assert f"  {root}/{SCRIPTS}/ifcfg-eth0\n" in err
    assert etc(root) == before and not (root / "var").exists()

    code, out, err = ifgen("apply", BASIC, *HOST, "--root", root, "--force")
    assert (code, err) == (1, "")
    assert f"removed {root}/{SCRIPTS}/ifcfg-eth0:3\n" in out
    assert "needed: service network restart\n" in out
    assert out.endswith("9 files changed\n")

    assert ifgen("diff", BASIC, *HOST, "--root", root) == (0, "", "")
    assert ifgen("diff", BASIC, *HOST, "--root", root, "--stat") == (0, "", "")
    assert ifgen("diff", BASIC, *HOST, "--root", root, "--json") == (0, "[]\n", "")
    assert ifgen("apply", BASIC, *HOST, "--root", root) == (0, "nothing to do\n", "")
    assert no_temp_files(root)


def test_apply_result_matches_render_and_keeps_foreign_bytes(root: Path, tmp_path: Path) -> None:
    before = etc(root)
    ifgen("apply", BASIC, *HOST, "--root", root, "--force", "-q")
    after = etc(root)
    ifgen("render", BASIC, "-o", tmp_path / "golden", *HOST, "-q")
    golden = read_tree(tmp_path / "golden" / "app1" / "etc")
    owned = {p for p in golden if p not in ("iproute2/rt_tables", "sysconfig/network")}
    assert {p: after[p] for p in owned} == {p: golden[p] for p in owned}
    for untouched in ("hosts", "sysctl.d/99-local.conf", f"{SCRIPTS[4:]}/ifcfg-lo"):
        assert after[untouched] == before[untouched]
    assert after[f"{SCRIPTS[4:]}/ifcfg-eth2"] == before[f"{SCRIPTS[4:]}/ifcfg-eth2"]
    assert (root / SCRIPTS / "ifup").is_symlink()
    assert "sysconfig/network-scripts/ifcfg-eth0:3" not in after
    assert after["sysconfig/network"] == (
        b"NETWORKING=yes\nHOSTNAME=app1.example.com\nNOZEROCONF=yes\nNETWORKING_IPV6=no\n"
    )
    block = b"# BEGIN ifgen (tables named in the inventory; ifgen manages this block)\n"
    assert after["iproute2/rt_tables"] == (
        before["iproute2/rt_tables"] + block + b"100\tbackup\n# END ifgen\n"
    )


def test_modes_and_backups(root: Path) -> None:
    os.chmod(root / "etc/sysconfig/network", 0o600)
    before = etc(root)
    ifgen("apply", BASIC, *HOST, "--root", root, "--force", "-q")
    for path in (root / "etc").rglob("*"):
        if path.is_file() and not path.is_symlink() and path.name != "99-local.conf":
            assert path.stat().st_mode & 0o777 == 0o644, path
    [backup] = (root / "var/lib/ifgen/backup").iterdir()
    assert read_tree(backup) == {
        f"etc/{p}": before[p]
        for p in (
            "iproute2/rt_tables",
            "sysconfig/network",
            "sysconfig/network-scripts/ifcfg-eth0",
            "sysconfig/network-scripts/ifcfg-eth0:3",
        )
    }


def test_backup_dir_option_and_second_run(root: Path, tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    ifgen("apply", BASIC, *HOST, "--root", root, "--force", "--backup-dir", keep, "-q")
    assert not (root / "var").exists()
    stale = root / SCRIPTS / "ifcfg-eth0:7"
    stale.write_bytes((root / SCRIPTS / "ifcfg-eth0:1").read_bytes())
    code, out, _ = ifgen("apply", BASIC, *HOST, "--root", root, "--backup-dir", keep)
    assert code == 1 and not stale.exists()
    assert "needed: ifdown eth0; ifup eth0\n" in out
    assert len(list(keep.iterdir())) == 2


def test_diff_stat_and_json(root: Path) -> None:
    code, out, _ = ifgen("diff", BASIC, *HOST, "--root", root, "--stat")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == " etc/iproute2/rt_tables                     |   3 +++"
    assert lines[-1] == " 9 files changed, 39 insertions(+), 16 deletions(-)"
    code, out, _ = ifgen("diff", BASIC, *HOST, "--root", root, "--json")
    assert code == 1
    entries = {e["path"]: e for e in json.loads(out)}
    assert entries["etc/sysconfig/network"] == {
        "path": "etc/sysconfig/network",
        "status": "changed",
        "foreign": False,
        "added": 0,
        "removed": 1,
    }
    assert entries[f"{SCRIPTS}/ifcfg-eth0"]["foreign"] is True
    assert entries[f"{SCRIPTS}/ifcfg-eth0:3"]["status"] == "removed"
    assert entries[f"{SCRIPTS}/route-eth0"]["status"] == "new"


def test_empty_root_gets_complete_files(tmp_path: Path) -> None:
    code, _, _ = ifgen("apply", BASIC, *HOST, "--root", tmp_path, "-q")
    assert code == 1
    ifgen("render", BASIC, "-o", tmp_path / "golden", *HOST, "-q")
    assert etc(tmp_path) == read_tree(tmp_path / "golden" / "app1" / "etc")


def test_unknown_and_default_host(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = ifgen("diff", BASIC, "--host", "app", "--root", root)
    assert (code, out) == (2, "")
    assert err == "basic.toml: no host 'app' in the inventory; did you mean 'app1'?\n"
    monkeypatch.setattr("socket.gethostname", lambda: "app1.example.com")
    assert ifgen("diff", BASIC, "--root", root, "-q")[0] == 1
    monkeypatch.setattr("socket.gethostname", lambda: "build7")
    assert ifgen("diff", BASIC, "--root", root) == (
        2,
        "",
        "basic.toml: no host 'build7' in the inventory; hosts: app1, client1\n"
        "(--host defaults to this machine's short hostname, 'build7')\n",
    )


def test_rt_tables_conflict_is_refused(root: Path) -> None:
    tables = root / "etc/iproute2/rt_tables"
    tables.write_bytes(tables.read_bytes() + b"100\tvideo\n")
    before = etc(root)
    code, out, err = ifgen("apply", BASIC, *HOST, "--root", root, "--force")
    assert (code, out) == (2, "")
    assert err == (
        "etc/iproute2/rt_tables: line 13: '100\\tvideo' clashes with a table ifgen defines; "
        "remove that line or rename the table in the inventory\n"
    )
    assert etc(root) == before


def test_merge_network_keeps_everything_else() -> None:
    current = '# mine\nNETWORKING="yes"\nGATEWAYDEV=eth0\nHOSTNAME=old\nFOO=1\nHOSTNAME=dup'
    merged = merge_network(current, [("NETWORKING", "yes"), ("HOSTNAME", "new"), ("X", "1")])
    assert merged == '# mine\nNETWORKING="yes"\nHOSTNAME=new\nFOO=1\nX=1\n'


def test_merge_rt_tables_replaces_only_the_block() -> None:
    block = ["# BEGIN ifgen x\n", "7\tseven\n", "# END ifgen\n"]
    current = "1\tone\n# BEGIN ifgen x\n5\told\n# END ifgen\n2\ttwo\n"
    assert merge_rt_tables(current, block) == "1\tone\n" + "".join(block) + "2\ttwo\n"
    assert merge_rt_tables(current, []) == "1\tone\n2\ttwo\n"
    assert merge_rt_tables("7\tseven", block) == "7\tseven\n" + "".join(block)
    with pytest.raises(RefusalError, match="line 1: '7\\\\tother'"):
        merge_rt_tables("7\tother\n", block)


def test_third_rename_fails_then_rerun_completes(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = etc(root)
    real = os.replace
    calls: list[str] = []

    def flaky(src: str | Path, dst: str | Path) -> None:
        calls.append(str(dst))
        if len(calls) == 3:
            raise OSError(errno.EIO, "Input/output error", str(dst))
        real(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    code, out, err = ifgen("apply", BASIC, *HOST, "--root", root, "--force")
    monkeypatch.setattr(os, "replace", real)
    assert (code, out) == (3, "")
    failed = calls[2][len(str(root)) + 1 :]
    assert err.startswith(f"cannot write {root}/{failed}: Input/output error\n")
    assert "  applied      etc/sysconfig/network\n" in err
    assert f"  not applied  {failed}\n" in err
    assert "run the same command again to finish" in err
    _assert_old_or_new(root, before, root.parent / "wanted")
    assert no_temp_files(root)
    assert ifgen("apply", BASIC, *HOST, "--root", root, "--force", "-q")[0] == 1
    assert ifgen("diff", BASIC, *HOST, "--root", root) == (0, "", "")


def _assert_old_or_new(root: Path, before: dict[str, bytes], scratch: Path) -> None:
    new = _wanted(scratch)
    mixed = 0
    for relpath, data in etc(root).items():
        assert data in (before.get(relpath), new.get(relpath)), relpath
        mixed += data == new.get(relpath) != before.get(relpath)
    assert mixed, "nothing was applied before the failure"


def _wanted(scratch: Path) -> dict[str, bytes]:
    """The fixture's /etc after a complete apply."""
    shutil.copytree(FIXTURES / "app1", scratch, symlinks=True)
    ifgen("apply", BASIC, *HOST, "--root", scratch, "--force", "-q")
    return etc(scratch)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs to fill needs root")
def test_disk_full_leaves_each_file_old_or_new(root: Path, tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", disk]
    if subprocess.run(mount, capture_output=True, check=False).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (no CAP_SYS_ADMIN?)")
    try:
        shutil.copytree(root, disk / "root", symlinks=True)
        host = disk / "root"
        before = etc(host)
        filler = _fill(disk)
        # Room for two more small files: replacing frees the old page, new files do not.
        os.truncate(filler, max(filler.stat().st_size - 8192, 0))
        args = ("apply", BASIC, *HOST, "--root", host, "--force", "--backup-dir", tmp_path / "b")
        code, out, err = ifgen(*args)
        assert (code, out) == (3, "")
        assert "No space left on device" in err and "not applied" in err
        _assert_old_or_new(host, before, tmp_path / "wanted")
        assert no_temp_files(host)
        filler.unlink()
        assert ifgen(*args)[0] == 1
        assert ifgen("diff", BASIC, *HOST, "--root", host) == (0, "", "")
    finally:
        subprocess.run(["umount", disk], check=True)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


SCENARIOS = [
    ("vip-source", "db-172-16-3-111"),
    ("multihoming", "swipe"),
    ("lvs-nat", "rs-238"),
    ("lvs-dr", "rs1"),
]


@pytest.mark.parametrize(("example", "host"), SCENARIOS)
def test_scenario_hosts_take_over_cleanly(example: str, host: str, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(FIXTURES / host, root, symlinks=True)
    before = etc(root)
    args = (EXAMPLES / f"{example}.toml", "--host", host, "--root", root)
    assert ifgen("diff", *args, "-q")[0] == 1
    assert ifgen("apply", *args)[0] == 2 and etc(root) == before
    assert ifgen("apply", *args, "--force", "-q")[0] == 1
    assert ifgen("diff", *args) == (0, "", "")
    assert ifgen("apply", *args) == (0, "nothing to do\n", "")
    after = etc(root)
    kept = [
        line
        for line in before["sysconfig/network"].splitlines(keepends=True)
        if not line.startswith((b"GATEWAY=", b"GATEWAYDEV="))
    ]
    assert after["sysconfig/network"].startswith(b"".join(kept))
    assert b"GATEWAY" not in after["sysconfig/network"]
    assert after["iproute2/rt_tables"].startswith(before["iproute2/rt_tables"])
    assert after[f"{SCRIPTS[4:]}/ifcfg-lo"] == before[f"{SCRIPTS[4:]}/ifcfg-lo"]
    assert no_temp_files(root)


def test_diff_colour_on_request(root: Path) -> None:
    code, out, _ = ifgen("diff", BASIC, *HOST, "--root", root, "--color", "always")
    assert code == 1
    assert "\x1b[31m\x1b[22m-GATEWAY=10.0.0.1\x1b[0m\n" in out
    assert "\x1b[" not in ifgen("diff", BASIC, *HOST, "--root", root)[1]
