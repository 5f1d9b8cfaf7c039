"""Fleet-scale benchmark: ifgen render/check of N synthetic hosts against the cost of writing
the same files with a plain Python loop (the floor), plus one-host start-up costs.

Runs anywhere with the project installed in the interpreter that runs this script:

    python benchmarks/fleet.py --hosts 1000,10000

Stdlib only. Every figure is reported next to a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PY = sys.executable


def synthetic_inventory(count: int) -> dict[str, Any]:
    """N hosts: 2-3 interfaces, 2 aliases, a preferred source, a policy table with its rule,
    an LVS real-server role on a third of them, and groups shared by many hosts."""
    hosts: dict[str, Any] = {}
    for n in range(count):
        hosts[f"host{n:05d}"] = _host(n)
    return {
        "defaults": {"nozeroconf": True, "sysctl": {"net.ipv4.conf.all.rp_filter": 2}},
        "groups": _groups(),
        "hosts": hosts,
    }


def _groups() -> dict[str, Any]:
    return {
        "app": {"sysctl": {"net.core.somaxconn": 4096}},
        "lvs-web": {
            "services": {"web": {"vips": ["172.31.255.10"], "interface": "eth0"}},
            "roles": {"web": "lvs-dr-realserver"},
        },
    }


def _host(n: int) -> dict[str, Any]:
    a, b = divmod(n, 250)
    net0 = f"10.{a % 200}.{b}"
    net1 = f"172.{16 + a % 16}.{b}"
    eth0 = {
        "address": f"{net0}.10/24",
        "hwaddr": f"52:54:00:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}",
        "aliases": [f"{net0}.11/24", f"{net0}.12/24"],
        "prefer_source": f"{net0}.11",
        "gateway": f"{net0}.1",
    }
    eth1 = {
        "address": f"{net1}.10/24",
        "policy": [{"source": f"{net1}.10", "table": "uplink2", "gateway": f"{net1}.1"}],
    }
    host: dict[str, Any] = {
        "groups": ["app", "lvs-web"] if n % 3 == 0 else ["app"],
        "tables": {"uplink2": 200},
        "interfaces": {"eth0": eth0, "eth1": eth1},
    }
    if n % 2:
        host["interfaces"]["eth2"] = {"address": f"192.168.{b}.{10 + a % 200}/16"}
    return host


def write_inventory(data: dict[str, Any], path: Path) -> None:
    """JSON or TOML by suffix (TOML written by hand: the stdlib has no TOML writer)."""
    if path.suffix == ".json":
        path.write_text(json.dumps(data, indent=1))
    else:
        path.write_text(_toml(data))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"


def _toml(data: dict[str, Any], prefix: str = "") -> str:
    scalars = [(k, v) for k, v in data.items() if not isinstance(v, dict)]
    tables = [(k, v) for k, v in data.items() if isinstance(v, dict)]
    out = [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in scalars]
    text = (f"[{prefix}]\n" if prefix and scalars else "") + "".join(line + "\n" for line in out)
    for key, value in tables:
        text += _toml(value, f"{prefix}.{json.dumps(key)}" if prefix else json.dumps(key))
    return text


def run_measured(argv: list[str]) -> tuple[float, int, int]:
    """Run a command; return (wall seconds, exit status, peak RSS in KiB of that child).

    The peak is the child's own high-water mark (VmHWM), polled every 10 ms: the kernel's
    ru_maxrss of a child also counts this (large) process's pages it shared before exec.
    """
    os.sync()  # start every timed phase with no writeback of the previous one pending
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    status_file = Path(f"/proc/{proc.pid}/status")
    peak = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, _high_water(status_file))
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{err[:2000]}")
    if proc.stderr:
        proc.stderr.close()
    return elapsed, proc.returncode, peak or usage.ru_maxrss


def _high_water(status: Path) -> int:
    """VmHWM of a running process in KiB; 0 when it is gone or the system has no /proc."""
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def snapshot(root: Path) -> list[tuple[str, bytes]]:
    """Every file below root with its bytes, so the floor writes exactly the same tree."""
    return [
        (p.relative_to(root).as_posix(), p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    ]


def floor(files: list[tuple[str, bytes]], root: Path) -> float:
    """A plain loop writing the same paths and bytes: the cost of the files themselves."""
    os.sync()
    start = time.perf_counter()
    made: set[Path] = set()
    for rel, data in files:
        path = root / rel
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        with open(path, "wb") as handle:
            handle.write(data)
    return time.perf_counter() - start


def fleet(count: int, work: Path, fmt: str, jobs: list[str], repeat: int) -> dict[str, Any]:
    """Measure floor, render and check of one inventory, `repeat` times, interleaved.

    Each repetition times the floor and every render right after one another, in an order
    that rotates from one repetition to the next (whatever runs first after the previous
    trees were deleted pays for more of that deletion), then every check; the ratios are
    taken per repetition, so a slow spell of the disk hits both sides of a ratio alike.
    """
    inv = work / f"fleet-{count}.{fmt}"
    write_inventory(synthetic_inventory(count), inv)
    ifgen = [PY, "-m", "ifgen"]
    row: dict[str, Any] = {"hosts": count, "format": fmt, "rss_mb": 0.0}
    reference = work / f"ref-{count}-{fmt}"
    shutil.rmtree(reference, ignore_errors=True)
    run_measured([*ifgen, "render", str(inv), "-o", str(reference), "-q"])
    files = snapshot(reference)
    row["files"] = len(files)
    writers = ["floor", *jobs]
    for rep in range(repeat):
        outs = {j: work / f"out-{count}-{fmt}-j{j}" for j in jobs}
        floor_dir = work / f"floor-{count}-{fmt}"
        for old in (*outs.values(), floor_dir):
            shutil.rmtree(old, ignore_errors=True)
        times: dict[str, float] = {}
        shift = rep % len(writers)
        for writer in writers[shift:] + writers[:shift]:
            if writer == "floor":
                times["floor"] = floor(files, floor_dir)
                continue
            seconds, _, rss = run_measured(
                [*ifgen, "render", str(inv), "-o", str(outs[writer]), "-q", "--jobs", writer]
            )
            times[f"render j{writer}"] = seconds
            row["rss_mb"] = max(row["rss_mb"], rss / 1024)
        for j in jobs:
            seconds, code, rss = run_measured(
                [*ifgen, "check", str(inv), "--golden", str(reference), "-q", "--jobs", j]
            )
            if code != 0:
                raise SystemExit("check --golden reported drift right after render")
            times[f"check j{j}"] = seconds
            row["rss_mb"] = max(row["rss_mb"], rss / 1024)
        for name, seconds in times.items():
            row.setdefault(name, []).append(seconds)
            if name != "floor":
                row.setdefault(f"{name} x floor", []).append(seconds / times["floor"])
    for old in (*outs.values(), floor_dir, reference):
        shutil.rmtree(old, ignore_errors=True)
    return row


def startup(work: Path, runs: int) -> dict[str, float]:
    """One host as a whole process, against the interpreter and the libraries alone.

    The commands take turns, run after run, so a slow spell hits them all alike; each
    figure is the median of its runs.
    """
    one = work / "one.json"
    write_inventory(synthetic_inventory(1), one)
    out = work / "one-out"
    commands = {
        "python -c pass": [PY, "-c", "pass"],
        "import click": [PY, "-c", "import click"],
        "import click, jinja2, netaddr": [PY, "-c", "import click, jinja2, netaddr"],
        "ifgen render (1 host)": [PY, "-m", "ifgen", "render", str(one), "-o", str(out), "-q"],
        "ifgen --version": [PY, "-m", "ifgen", "--version"],
        "ifgen --help": [PY, "-m", "ifgen", "--help"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def med(values: list[float]) -> float:
    """The median of one figure's repetitions."""
    return statistics.median(values)


def report(rows: list[dict[str, Any]], jobs: list[str], start: dict[str, float]) -> None:
    """Print the figures, the ratios to their baselines, and the targets of the issue."""
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; medians of each figure")
    cols = ["floor"] + [f"{verb} j{j}" for verb in ("render", "check") for j in jobs]
    head = f"{'hosts':>6} {'fmt':4} {'files':>7} " + " ".join(
        f"{c + ' s':>12}" + ("" if c == "floor" else f" {'x floor':>7}") for c in cols
    )
    print(head + f" {'hosts/s':>8} {'files/s':>8} {'RSS MB':>7}")
    for r in rows:
        cells = []
        for c in cols:
            cells.append(f"{med(r[c]):>12.2f}")
            if c != "floor":
                cells.append(f"{med(r[c + ' x floor']):>7.2f}")
        single = med(r[f"render j{jobs[0]}"])
        print(
            f"{r['hosts']:>6} {r['format']:4} {r['files']:>7} {' '.join(cells)} "
            f"{r['hosts'] / single:>8.0f} {r['files'] / single:>8.0f} {r['rss_mb']:>7.0f}"
        )
    print()
    for name, seconds in start.items():
        print(f"{name:32} {seconds * 1000:7.1f} ms")
    print()
    _targets(rows, jobs, start)


def _targets(rows: list[dict[str, Any]], jobs: list[str], start: dict[str, float]) -> None:
    checks: list[tuple[str, float, float, str]] = []
    by = {(r["hosts"], r["format"]): r for r in rows}
    one = jobs[0]
    for (hosts, fmt), r in sorted(by.items()):
        if fmt == "json" and hosts == max(h for h, f in by if f == "json"):
            for verb in ("render", "check"):
                figure = med(r[f"{verb} j{one} x floor"])
                checks.append((f"{verb} {hosts} hosts json --jobs {one} x floor", figure, 2, "x"))
    for fmt in ("json", "toml"):
        sizes = sorted(h for h, f in by if f == fmt)
        if len(sizes) >= 2:
            small, big = by[(sizes[0], fmt)], by[(sizes[-1], fmt)]
            growth = med(big[f"render j{one}"]) / med(small[f"render j{one}"])
            limit = 1.1 * sizes[-1] / sizes[0]
            checks.append((f"growth {fmt} render {sizes[-1]}/{sizes[0]} hosts", growth, limit, "x"))
    if rows:
        checks.append(("peak RSS", max(r["rss_mb"] for r in rows), 250, " MB"))
    base_all = start["import click, jinja2, netaddr"]
    base_click = start["import click"]
    checks += [
        (
            "render 1 host / import click+jinja2+netaddr",
            start["ifgen render (1 host)"] / base_all,
            1.2,
            "x",
        ),
        ("--version / import click", start["ifgen --version"] / base_click, 1.2, "x"),
        ("--help / import click", start["ifgen --help"] / base_click, 1.2, "x"),
    ]
    for name, figure, limit, unit in checks:
        verdict = "met" if figure <= limit else "NOT MET"
        print(f"{name:48} {figure:8.2f}{unit:3} target <= {limit:g}{unit.strip()}  {verdict}")


def main() -> None:
    """Parse arguments, run every measurement, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", default="1000,10000", help="comma-separated host counts")
    parser.add_argument("--formats", default="json,toml")
    parser.add_argument(
        "--jobs",
        default=f"1,{os.cpu_count() or 1}",
        help="comma-separated ifgen --jobs values; the first is the one held to the targets "
        "(default: 1 and the number of CPUs)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each fleet run")
    parser.add_argument("--runs", type=int, default=15, help="runs per start-up figure")
    parser.add_argument("--keep", type=Path, default=None, help="work directory to keep")
    args = parser.parse_args()
    jobs = list(dict.fromkeys(args.jobs.split(",")))
    work = args.keep or Path(tempfile.mkdtemp(prefix="ifgen-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        rows = []
        for fmt in args.formats.split(","):
            for n in filter(None, args.hosts.split(",")):
                rows.append(fleet(int(n), work, fmt, jobs, args.repeat))
                done = {
                    k: [round(x, 2) for x in v] for k, v in rows[-1].items() if isinstance(v, list)
                }
                print(f"measured {n} hosts {fmt}: {done}", file=sys.stderr, flush=True)
        report(rows, jobs, startup(work, args.runs))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
