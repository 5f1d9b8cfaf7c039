"""The one exception hierarchy of ifgen, each class mapped to an exit status."""

from __future__ import annotations

from typing import NamedTuple


class Problem(NamedTuple):
    """One user mistake: where it is and what is wrong."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        at = f"{self.path}: " if self.path else ""
        return f"{where}{at}{self.message}"


class IfgenError(Exception):
    """Base of every error a user can cause; never shown with a traceback."""

    exit_code = 2


class InventoryError(IfgenError):
    """The inventory cannot be read (missing file, broken TOML/JSON, ...)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    def __reduce__(self) -> tuple[type[InventoryError], tuple[list[Problem]]]:
        # Raised in a worker process (`--jobs`), it must arrive whole in the parent.
        return type(self), (self.problems,)


class ValidationError(InventoryError):
    """The inventory was read but says something impossible or unsafe."""


class RenderError(IfgenError):
    """A template failed to render (a bug in ifgen or a broken template)."""


class EmitError(IfgenError):
    """Writing or reading the output tree failed (disk full, permissions, ...)."""

    exit_code = 3


class RefusalError(IfgenError):
    """ifgen will not act without an explicit override (e.g. foreign files)."""
