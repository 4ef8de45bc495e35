"""Message catalogues: every user-facing label and sentence, in English and Chinese.

Catalogues are TOML files in ``memberlens/messages``: ``en.toml`` and ``zh.toml``, plus one pair
``AREA.en.toml`` / ``AREA.zh.toml`` per area that keeps its own (``segment.en.toml``), merged by
section; both languages have the same keys. A key such as
``"missing_*"`` matches any name with that prefix and receives the rest as ``{column}``.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any, TypeVar

from memberlens import format as f
from memberlens.errors import ConfigError, MemberlensError

LANGUAGES = ("en", "zh")

E = TypeVar("E", bound=MemberlensError)


@cache
def catalogue(lang: str) -> dict[str, dict[str, str]]:
    if lang not in LANGUAGES:
        raise ConfigError(f"unknown language {lang!r}", "use --lang en or --lang zh")
    folder = resources.files("memberlens.messages")
    names = sorted(f.name for f in folder.iterdir() if f.name == f"{lang}.toml" or f.name.endswith(f".{lang}.toml"))
    merged: dict[str, dict[str, str]] = {}
    for name in names:
        for section, entries in tomllib.loads(folder.joinpath(name).read_text(encoding="utf-8")).items():
            target = merged.setdefault(section, {})
            clash = set(target) & set(entries)
            if clash:
                raise RuntimeError(f"messages {name}: [{section}] redefines {sorted(clash)}")
            target.update(entries)
    return merged


class Messages:
    """Look up and format messages of one language: ``t("data_quality.title")``."""

    def __init__(self, lang: str = "en") -> None:
        self.lang = lang
        self._catalogue = catalogue(lang)

    def __call__(self, key: str, **values: Any) -> str:
        section, _, name = key.partition(".")
        entries = self._catalogue.get(section, {})
        if name in entries:
            return entries[name].format(**values)
        for pattern, text in entries.items():
            if pattern.endswith("*") and name.startswith(pattern[:-1]):
                return text.format(column=name[len(pattern) - 1 :], **values)
        raise KeyError(f"message {key!r} missing from the {self.lang} catalogue")

    def error(self, exc: MemberlensError) -> str:
        """Why something cannot be shown, in this language: the catalogue's sentence when the
        error names one (:func:`said`), else its message."""
        return self(exc.key, **exc.values) if exc.key else exc.message

    def reason(self, reason: str) -> str:
        try:
            return self(f"reason.{reason}")
        except KeyError:
            return reason

    def number(self, value: float | int) -> str:
        """``1,234`` or ``1,234.57`` (:func:`memberlens.format.number`), the same in every language."""
        return f.number(value)

    def percent(self, share: float) -> str:
        """``12.3%`` (:func:`memberlens.format.pct`)."""
        return f.pct(share)


def said(error: type[E], key: str, hint: str | None = None, **values: Any) -> E:
    """The error whose message is the catalogue's sentence ``key`` filled with ``values``:
    English on the command line; a report says it in its own language (:meth:`Messages.error`)::

        raise said(InputError, "cannot.cluster_few", customers=len(frame))
    """
    return error(Messages("en")(key, **values), hint, key=key, values=values)


def describe_reason(reason: str, lang: str = "en") -> str:
    """A short description of a set-aside reason."""
    return Messages(lang).reason(reason)
