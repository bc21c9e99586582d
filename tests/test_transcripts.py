"""YAML conversations run against the core: user says -> expected reply fragments."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import Chat, text_of

FILES = sorted((Path(__file__).parent / "transcripts").glob("*.yml"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_transcript(service, path):
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    chat = Chat(service, user=f"console:{path.stem}")
    for i, turn in enumerate(doc["turns"]):
        reply = chat.press(turn["press"]) if "press" in turn else chat.say(turn["say"])
        text = text_of(reply)
        for fragment in turn.get("expect", []):
            assert fragment in text, f"turn {i} ({turn}): {fragment!r} not in:\n{text}"
        for fragment in turn.get("absent", []):
            assert fragment not in text, f"turn {i} ({turn}): {fragment!r} should not be in:\n{text}"
