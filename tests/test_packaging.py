"""The wheel ships the content folders, so `pip install .` works outside a checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_contains_the_content(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("influbot-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("intents", "knowledge", "referrals"):
        shipped = {n for n in names if n.startswith(f"bot/data/{folder}/")}
        expected = {f"bot/data/{p.relative_to(ROOT).as_posix()}" for p in (ROOT / folder).rglob("*.yml")}
        assert expected and expected <= shipped, expected - shipped
    assert "bot/cli.py" in names
    assert "bot/storage/migrations/0001_initial.sql" in names, "the schema ships with the package"
    assert any(n.endswith("entry_points.txt") and "influbot" in zipfile.ZipFile(wheel).read(n).decode() for n in names)
