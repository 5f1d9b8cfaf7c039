"""Every example renders to exactly its committed golden tree."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import EXAMPLES, GOLDEN, read_tree, run_main

from ifgen.emit import unified

EXAMPLE_FILES = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".toml", ".json"))
UPDATE = "ifgen render examples/{0} -o golden/{1}   (or: pytest --update-golden)"


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_matches_golden(example: Path, tmp_path: Path, update_golden: bool) -> None:
    golden = GOLDEN / example.stem
    code, out, err = run_main("render", example, "-o", tmp_path, "-q")
    assert code == 0, err
    if update_golden:
        shutil.rmtree(golden, ignore_errors=True)
        shutil.copytree(tmp_path, golden)
    want, got = read_tree(golden), read_tree(tmp_path)
    report = []
    for relpath in sorted(set(want) | set(got)):
        if want.get(relpath) != got.get(relpath):
            old = want[relpath].decode() if relpath in want else None
            new = got[relpath].decode() if relpath in got else None
            report.append(unified(old, new, relpath))
    hint = UPDATE.format(example.name, example.stem)
    assert not report, "golden drift; regenerate with\n  " + hint + "\n" + "".join(report)


def test_every_golden_tree_has_an_example() -> None:
    stems = {p.stem for p in EXAMPLE_FILES}
    assert {p.name for p in GOLDEN.iterdir()} <= stems


def test_check_golden_passes_then_catches_one_byte(tmp_path: Path) -> None:
    example = EXAMPLES / "basic.toml"
    copy = tmp_path / "golden"
    shutil.copytree(GOLDEN / "basic", copy)
    code, out, err = run_main("check", example, "--golden", copy)
    assert (code, err) == (0, "")
    assert out == "ok: 2 hosts match " + str(copy) + "\n"
    target = copy / "app1/etc/sysconfig/network-scripts/ifcfg-eth0"
    target.write_bytes(target.read_bytes().replace(b"MTU=9000", b"MTU=9001"))
    code, out, err = run_main("check", example, "--golden", copy, "--color", "never")
    assert code == 1
    assert "--- a/app1/etc/sysconfig/network-scripts/ifcfg-eth0" in out
    assert "-MTU=9001\n+MTU=9000\n" in out
    assert err == f"drift: 1 files differ from {copy}\n"


def test_check_golden_reports_missing_and_extra(tmp_path: Path) -> None:
    copy = tmp_path / "golden"
    shutil.copytree(GOLDEN / "basic", copy)
    (copy / "app1/etc/sysconfig/network-scripts/route-eth0").unlink()
    (copy / "app1/etc/sysconfig/network-scripts/ifcfg-eth0:7").write_text("stale\n")
    (copy / "gone-host/etc").mkdir(parents=True)
    (copy / "gone-host/etc/x").write_text("x\n")
    code, out, _ = run_main("check", EXAMPLES / "basic.toml", "--golden", copy)
    assert code == 1
    assert "--- /dev/null\n+++ b/app1/etc/sysconfig/network-scripts/route-eth0\n" in out
    assert "--- a/app1/etc/sysconfig/network-scripts/ifcfg-eth0:7\n+++ /dev/null\n" in out
    assert "--- a/gone-host/etc/x\n+++ /dev/null\n" in out
