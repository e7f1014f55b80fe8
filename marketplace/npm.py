"""Locate the pinned JavaScript tools of package.json (snarkjs, circom2, solcjs, hardhat)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from prover.errors import ZkmarketError

REPO_ROOT = Path(__file__).resolve().parent.parent


class ToolMissingError(ZkmarketError):
    """A JavaScript tool from package.json is not installed."""


def npm_bin(name: str) -> Path:
    """Path of ``node_modules/.bin/NAME`` in the repository (or ``$ZKMARKET_NODE_MODULES``)."""
    root = Path(os.environ.get("ZKMARKET_NODE_MODULES", REPO_ROOT / "node_modules"))
    path = root / ".bin" / name
    if path.exists():
        return path
    found = shutil.which(name)
    if found:
        return Path(found)
    raise ToolMissingError(f"{name} is not installed: run `npm ci` (or `make install`) in {REPO_ROOT}")


def run_npm_tool(
    name: str,
    *args: str | os.PathLike,
    check: bool = True,
    timeout: float | None = None,
    cwd: str | os.PathLike | None = None,
) -> subprocess.CompletedProcess:
    """Run a pinned npm tool, capturing its output as text."""
    cmd = [str(npm_bin(name)), *map(str, args)]
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=timeout, cwd=cwd)


def run_node_json(script: str, payload, timeout: float | None = None):
    """Run an ES-module ``script`` with node in the repository (so it imports the pinned
    packages), ``payload`` as JSON on its standard input; returns its standard output parsed as
    JSON."""
    proc = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        cwd=REPO_ROOT,
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    return json.loads(proc.stdout)
