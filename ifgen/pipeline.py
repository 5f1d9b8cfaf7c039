"""The stages in order: inventory → validated hosts → plans → rendered files."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ifgen.model import Host
    from ifgen.render import RenderedFile


def load_hosts(path: Path, only: Iterable[str] = ()) -> list[Host]:
    """Read and validate the inventory; every host, or only the named ones."""
    from ifgen.inventory import load_inventory
    from ifgen.validate import build_hosts

    return build_hosts(load_inventory(path), only)


def render_hosts(hosts: Iterable[Host]) -> Iterator[tuple[Host, list[RenderedFile]]]:
    """Plan and render each host in turn."""
    from ifgen.plan import plan_host
    from ifgen.render import render_host

    for host in hosts:
        yield host, render_host(plan_host(host))
