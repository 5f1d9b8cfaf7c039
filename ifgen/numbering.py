"""Stable numbering: the lowest numbers not taken, shared by alias indices and priorities."""

from __future__ import annotations

from collections.abc import Iterator


def free_numbers(taken: set[int], start: int) -> Iterator[int]:
    """Yield the numbers from start upward that are not in taken, marking each as taken."""
    number = start
    while True:
        if number not in taken:
            taken.add(number)
            yield number
        number += 1
