"""Suggestions for misspelt keys and names."""

from __future__ import annotations

from collections.abc import Iterable


def closest(word: str, choices: Iterable[str]) -> str | None:
    """Return the choice nearest to `word`, or None when nothing is close."""
    import difflib  # only a mistake pays for it

    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_key_message(key: str, known: Iterable[str]) -> str:
    """Message for a key the schema does not have, with a suggestion when one is close."""
    known = sorted(known)
    near = closest(key, known)
    if near is not None:
        return f"unknown key {key!r}; did you mean {near!r}?"
    return f"unknown key {key!r}; expected one of: {', '.join(known)}"
