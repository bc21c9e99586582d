"""The core stays channel-agnostic: no adapter, telegram or discord import under bot/core."""

import ast
import re
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "bot" / "core"
FORBIDDEN = ("telegram", "discord", "bot.adapters", "bot.desk", "bot.service", "sqlite_utils")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_imports_no_adapter_or_channel_library():
    offenders = {
        f"{path.name}: {name}"
        for path in CORE.glob("*.py")
        for name in imported_modules(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    }
    assert not offenders, offenders


def test_adapter_module_names_do_not_shadow_the_libraries():
    adapters = Path(__file__).resolve().parent.parent / "bot" / "adapters"
    assert not (adapters / "telegram.py").exists()
    assert not (adapters / "discord.py").exists()


def test_the_check_would_catch_an_adapter_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from bot.adapters import telegram_adapter\nimport discord\n")
    assert {"bot.adapters", "discord"} <= imported_modules(bad)


SQL = re.compile(r"\b(?:SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b")


def test_no_adapter_or_desk_code_touches_sql():
    """Storage sits behind the protocols in bot/storage: no SQL, no database library elsewhere."""
    root = CORE.parent
    offenders = []
    for folder in ("adapters", "desk"):
        for path in (root / folder).glob("*.py"):
            names = imported_modules(path)
            offenders += [
                f"{path.name}: import {n}"
                for n in names
                if n.split(".")[0] in ("sqlite3", "sqlite_utils", "psycopg", "psycopg_pool")
            ]
            offenders += [f"{path.name}: {m}" for m in SQL.findall(path.read_text(encoding="utf-8"))]
            offenders += [f"{path.name}: .db" for m in re.findall(r"\.db\[", path.read_text(encoding="utf-8"))]
    assert not offenders, offenders
