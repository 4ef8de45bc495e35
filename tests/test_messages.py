"""The message catalogues: both languages carry the same keys with the same placeholders."""

from __future__ import annotations

import string

import pytest

from memberlens.i18n import LANGUAGES, Messages, catalogue


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_languages_have_the_same_keys_and_placeholders():
    en, zh = catalogue("en"), catalogue("zh")
    assert set(en) == set(zh)
    for section in en:
        assert set(en[section]) == set(zh[section]), section
        for key, text in en[section].items():
            assert _placeholders(text) == _placeholders(zh[section][key]), f"{section}.{key}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_message_is_empty(lang):
    for section, entries in catalogue(lang).items():
        assert all(text.strip() for text in entries.values()), section


def test_missing_key_is_an_error():
    with pytest.raises(KeyError):
        Messages("en")("no_such_section.no_such_key")
