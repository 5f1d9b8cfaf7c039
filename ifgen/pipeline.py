"""The stages in order: inventory → validated hosts → plans → rendered files.

Validation reads the whole inventory first (problems are reported together, and nothing is
written unless every host is valid). After that each host is planned, rendered and written or
compared on its own, one at a time, so a fleet is streamed rather than held in memory, and
the per-host work can be spread over several processes with `map_hosts`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from pathlib import Path

    from ifgen.model import Host
    from ifgen.render import RenderedFile

T = TypeVar("T")

# Below this many hosts per process, forking costs more than it saves.
MIN_HOSTS_PER_JOB = 64


def load_hosts(path: Path, only: Iterable[str] = ()) -> list[Host]:
    """Read and validate the inventory; every host, or only the named ones."""
    import gc

    from ifgen.inventory import load_inventory
    from ifgen.validate import build_hosts

    # Reading builds millions of small objects that all stay alive until validation ends:
    # the cyclic collector would scan them again and again for nothing (a third of the
    # validation time of 10,000 hosts). Afterwards the hosts live until exit, so they are
    # frozen out of later collections (and forked workers do not touch their pages).
    enabled = gc.isenabled()
    gc.disable()
    try:
        hosts = build_hosts(load_inventory(path), only)
    finally:
        if enabled:
            gc.enable()
    gc.freeze()
    return hosts


def host_files(host: Host) -> list[RenderedFile]:
    """Plan and render one host: its files, sorted by path."""
    from ifgen.plan import plan_host
    from ifgen.render import render_host

    return render_host(plan_host(host))


def default_jobs() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def map_hosts(
    hosts: Sequence[Host], work: Callable[[Host], T], jobs: int | None = None
) -> Iterator[T]:
    """`work(host)` for every host, results in host order, in up to `jobs` processes.

    `jobs` None means one per CPU; there is never more than one per MIN_HOSTS_PER_JOB hosts.

    The workers are forked after validation, so they share the validated hosts without
    copying them; only the (small) results travel back. Results and their order do not
    depend on `jobs`. An error raised by `work` in a worker is raised here.
    """
    jobs = max(1, min(jobs or default_jobs(), len(hosts) // MIN_HOSTS_PER_JOB))
    if jobs == 1 or not _can_fork():
        yield from map(work, hosts)
        return
    import multiprocessing

    global _SHARED
    _SHARED = (hosts, work)
    chunk = max(1, min(64, len(hosts) // (jobs * 8)))
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            yield from pool.imap(_work_on, range(len(hosts)), chunksize=chunk)
    finally:
        _SHARED = None


# What forked workers inherit: the hosts and the work to do on each (never pickled).
_SHARED: tuple[Sequence[Host], Callable[[Host], object]] | None = None


def _work_on(index: int) -> object:
    assert _SHARED is not None, "map_hosts sets the shared state before forking"
    hosts, work = _SHARED
    return work(hosts[index])


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()
