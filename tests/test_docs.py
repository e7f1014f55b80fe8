"""The README and docs/DESIGN.md name files and modules that exist: every backticked repository
path (``prover/field.py``, ``tests/test_channel.py``) is a file or folder of the tree, and every
backticked dotted name under ``marketplace.`` or ``prover.`` is a module or a module's attribute."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "docs" / "DESIGN.md"]
TOP = ("marketplace/", "prover/", "tests/", "contracts/", "benchmarks/", "scripts/", "docs/", ".ci/")


def _backticked(text: str) -> list[str]:
    return re.findall(r"`([^`\s]+)`", text)


def repository_paths(text: str) -> set[str]:
    """Backticked tokens that are paths in the tree (no placeholders such as NAME, no globs)."""
    return {
        token.rstrip("/")
        for token in _backticked(text)
        if token.startswith(TOP) and not re.search(r"[A-Z]{3,}|[*{<]", token.split("/", 1)[1] or "x")
    }


def dotted_names(text: str) -> set[str]:
    return {t for t in _backticked(text) if re.fullmatch(r"(marketplace|prover)(\.[A-Za-z_]\w*)+", t)}


def resolves(dotted: str) -> bool:
    """A module, or an attribute path below the longest importable module prefix."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_named_paths_exist(doc):
    missing = sorted(p for p in repository_paths(doc.read_text()) if not (ROOT / p).exists())
    assert not missing, f"{doc.name} names paths the tree does not have: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_named_modules_resolve(doc):
    missing = sorted(name for name in dotted_names(doc.read_text()) if not resolves(name))
    assert not missing, f"{doc.name} names modules or attributes that do not exist: {missing}"


def test_the_checks_catch_a_stale_name():
    text = "see `marketplace/setup_check.py`, `marketplace.setup_check.check_statement_setup` and `prover/field.py`"
    assert repository_paths(text) == {"marketplace/setup_check.py", "prover/field.py"}
    assert not (ROOT / "marketplace/setup_check.py").exists() and (ROOT / "prover/field.py").exists()
    assert not resolves("marketplace.setup_check.check_statement_setup")
    assert resolves("marketplace.setup.check.check_statement_setup")
