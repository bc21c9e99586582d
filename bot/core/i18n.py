"""User-facing strings (knowledge/ui.yml), per language."""

from __future__ import annotations

from typing import Any

LANGS = ("nl", "fr", "en")


class Strings:
    def __init__(self, table: dict[str, dict[str, str]]):
        self.table = table

    def __call__(self, key: str, lang: str, **kwargs: Any) -> str:
        entry = self.table[key]
        text = entry.get(lang) or entry["nl"]
        return text.format(**kwargs) if kwargs else text
