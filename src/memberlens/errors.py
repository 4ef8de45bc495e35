"""The one exception type users see.

A :class:`MemberlensError` carries a one-line message naming the file, column, row or value at
fault, and an optional hint. The CLI prints both on one line each and exits with status 2; the
Python API simply raises it.
"""

from __future__ import annotations

from typing import Any, Self


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

    def __init__(self, message: str, hint: str | None = None, *, key: str | None = None,
                 values: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.key = key  # the message catalogue's sentence for it, when the report says it in words
        self.values = dict(values or {})

    @classmethod
    def said(cls, key: str, hint: str | None = None, **values: Any) -> Self:
        """The error whose message is the catalogue's sentence ``key`` filled with ``values``:
        English on the command line; a report says it in its own language
        (:meth:`memberlens.i18n.Messages.error`)."""
        from memberlens.i18n import Messages  # the catalogues' own errors are MemberlensErrors

        return cls(Messages("en")(key, **values), hint, key=key, values=values)

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nHint: {self.hint}"


class InputError(MemberlensError):
    """A source file or table cannot be read or does not fit the data contract."""


class ConfigError(MemberlensError):
    """A mapping file, preset, option or parameter is invalid."""


class MissingTableError(MemberlensError):
    """An analysis needs a canonical table the workspace does not hold."""
