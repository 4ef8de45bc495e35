"""The one exception type users see.

A :class:`MemberlensError` carries a one-line message naming the file, column, row or value at
fault, and an optional hint. The CLI prints both on one line each and exits with status 2; the
Python API simply raises it.
"""

from __future__ import annotations

from typing import Any


class MemberlensError(Exception):
    """Bad input or a bad request: something the user can fix.

    Parameters
    ----------
    message
        What is wrong, naming the file, column, row or value.
    hint
        What to do about it (optional).
    """

    exit_code = 2

    def __init__(
        self, message: str, hint: str | None = None, *, key: str | None = None, values: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.key = (
            key  # the message catalogue's sentence for it (memberlens.i18n.said), when the report says it in words
        )
        self.values = dict(values or {})

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nHint: {self.hint}"


class InputError(MemberlensError):
    """A source file or table cannot be read or does not fit the data contract."""


class ConfigError(MemberlensError):
    """A mapping file, preset, option or parameter is invalid."""


class MissingTableError(MemberlensError):
    """An analysis needs a canonical table the workspace does not hold."""
