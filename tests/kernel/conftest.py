from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netns import Netns, namespace, netns_unavailable  # noqa: E402

REASON = netns_unavailable()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if REASON is None:
        return
    for item in items:
        if "/kernel/" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=f"kernel test skipped: {REASON}"))


@pytest.fixture
def netns() -> Iterator[Netns]:
    with namespace() as ns:
        yield ns
