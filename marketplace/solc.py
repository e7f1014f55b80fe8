"""The one Solidity compiler adapter: standard-JSON in, standard-JSON out.

Two backends share ``compile_sources``: a native ``solc`` driven through py-solc-x when one of
the pinned version is installed (py-solc-x's install folder or ``solc`` on PATH), otherwise
the npm ``solc`` package pinned in package.json (``node_modules/.bin/solcjs``). solcjs prints
a ``>>>`` notice line before its JSON, has no ``--allow-paths`` and reports a version string
(``0.8.28+commit.….Emscripten.clang``) that differs from native solc's; this module hides all
three, so callers see one compiler.

Settings are pinned here (EVM version, optimizer runs, no metadata trailer) so that the
bytecode depends only on the sources and the compiler version, and the artifacts shipped in
``marketplace/artifacts`` can be checked against a fresh compile.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from marketplace.npm import REPO_ROOT, ToolMissingError, npm_bin
from prover.errors import ZkmarketError

# cancun: the newest fork that py-evm (eth-tester), hardhat 2.29 and solc 0.8.28 all run
EVM_VERSION = "cancun"
OPTIMIZER_RUNS = 200
_VERSION_RE = re.compile(r"(\d+)\.(\d+)\.(\d+)")


class CompilerError(ZkmarketError):
    """The Solidity compiler rejected the sources or could not be run."""


@dataclass(frozen=True)
class Compiler:
    backend: str  # "native" (py-solc-x) or "solcjs" (npm solc)
    path: Path
    version: str  # "MAJOR.MINOR.PATCH", the same form for both backends


def pinned_version() -> str:
    """The solc version package.json pins; a native compiler is used only at this version so
    that both backends produce the same bytecode."""
    package = json.loads((REPO_ROOT / "package.json").read_text())
    return package["devDependencies"]["solc"]


def parse_version(text: str) -> str:
    """``0.8.28+commit.7893614a.Emscripten.clang`` or native ``--version`` output -> ``0.8.28``."""
    match = _VERSION_RE.search(text)
    if not match:
        raise CompilerError(f"cannot read a solc version from {text!r}: reinstall the compiler")
    return ".".join(match.groups())


def _native_candidates() -> list[Path]:
    import solcx

    paths = []
    try:
        folder = solcx.get_solcx_install_folder()
        paths += [folder / f"solc-v{v}" for v in solcx.get_installed_solc_versions()]
    except Exception:  # py-solc-x raises when its folder is missing: no installed versions
        pass
    on_path = shutil.which("solc")
    if on_path:
        paths.append(Path(on_path))
    return paths


def _version_of(path: Path, *args: str) -> str:
    out = subprocess.run([str(path), *args, "--version"], capture_output=True, text=True, timeout=60)
    # solc prints "Version: 0.8.28+commit…"; solcjs prints the bare version
    line = next((ln for ln in out.stdout.splitlines() if "Version" in ln), out.stdout)
    return parse_version(line)


@cache
def find_compiler(backend: str | None = None) -> Compiler:
    """The compiler to use: a native solc of the pinned version if installed, else solcjs.
    ``backend`` ("native" or "solcjs") forces one; raises CompilerError if it is missing."""
    want = pinned_version()
    if backend in (None, "native"):
        for path in _native_candidates():
            try:
                if path.exists() and _version_of(path) == want:
                    return Compiler("native", path, want)
            except (OSError, subprocess.SubprocessError, CompilerError):
                continue
        if backend == "native":
            raise CompilerError(
                f"no native solc {want} is installed: install it with py-solc-x "
                f"(`python -m solcx.install v{want}`) or put it on PATH"
            )
    try:
        path = npm_bin("solcjs")
    except ToolMissingError as exc:
        raise CompilerError(f"no Solidity compiler: {exc}") from exc
    version = _version_of(path)
    if version != want:
        raise CompilerError(f"solcjs is {version} but package.json pins {want}: run `npm ci`")
    return Compiler("solcjs", path, version)


def standard_input(sources: dict[str, str]) -> dict:
    """The standard-JSON input for ``sources`` (unit name -> Solidity text) with the pinned
    settings. Imports resolve among the given units, so no file system access is needed."""
    return {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sorted(sources.items())},
        "settings": {
            "evmVersion": EVM_VERSION,
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            # no CBOR metadata trailer: bytecode then does not change with comments or paths
            "metadata": {"appendCBOR": False},
            "outputSelection": {
                "*": {
                    "*": [
                        "abi",
                        "evm.bytecode.object",
                        "evm.deployedBytecode.object",
                        "evm.deployedBytecode.immutableReferences",
                    ]
                }
            },
        },
    }


def _run_solcjs(compiler: Compiler, request: dict) -> dict:
    # stdin and stdout are files, not pipes: node exits before flushing a pipe (cutting the JSON
    # at 64-128 KiB) and its synchronous read of a large piped stdin can fail with EAGAIN
    with tempfile.TemporaryFile("w+") as src, tempfile.TemporaryFile("w+") as out:
        json.dump(request, src)
        src.seek(0)
        try:
            proc = subprocess.run(
                [str(compiler.path), "--standard-json"],
                stdin=src,
                stdout=out,
                stderr=subprocess.PIPE,
                text=True,
                timeout=600,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise CompilerError(f"solcjs could not run ({exc}): check `node --version` (Node 20)") from exc
        out.seek(0)
        text = out.read()
    # solcjs writes ">>> …" notices before the JSON document; the JSON starts at the first "{"
    start = text.find("{")
    if start < 0:
        raise CompilerError(f"solcjs returned no JSON (exit {proc.returncode}): {proc.stderr.strip()[:500]}")
    try:
        return json.loads(text[start:])
    except ValueError as exc:
        raise CompilerError(
            f"solcjs returned malformed JSON ({exc}): rerun; if it persists, reinstall the npm solc package (`npm ci`)"
        ) from exc


def _run_native(compiler: Compiler, request: dict) -> dict:
    import solcx
    from solcx.exceptions import SolcError

    try:
        return solcx.compile_standard(request, solc_binary=compiler.path)
    except SolcError as exc:
        # py-solc-x raises on compile errors; re-read them from its captured output
        try:
            return json.loads(exc.stdout_data or "")
        except (TypeError, ValueError):
            raise CompilerError(f"solc failed: {exc}") from exc


def compile_sources(sources: dict[str, str], compiler: Compiler | None = None) -> dict[str, dict]:
    """Compile ``sources`` (unit name -> text). Returns ``{contract name: {"abi", "bytecode",
    "deployedBytecode", "immutableReferences"}}`` with hex strings without 0x; the last lists, per
    immutable, the byte ranges ``[[start, length], ...]`` of the deployed code that the
    constructor fills with its value (zeros in ``deployedBytecode``; a value read in several
    places has several copies), sorted. Raises CompilerError listing every
    error the compiler reported (warnings are ignored)."""
    compiler = compiler or find_compiler()
    request = standard_input(sources)
    output = _run_solcjs(compiler, request) if compiler.backend == "solcjs" else _run_native(compiler, request)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        text = "\n".join(e.get("formattedMessage", e.get("message", "")).strip() for e in errors)
        raise CompilerError(f"solc {compiler.version} rejected the sources:\n{text}")
    contracts: dict[str, dict] = {}
    for unit in sorted(output.get("contracts", {})):
        for name, out in output["contracts"][unit].items():
            if name in contracts:
                raise CompilerError(f"two contracts named {name}: rename one ({unit})")
            contracts[name] = {
                "abi": out["abi"],
                "bytecode": out["evm"]["bytecode"]["object"],
                "deployedBytecode": out["evm"]["deployedBytecode"]["object"],
                "immutableReferences": sorted(
                    sorted([ref["start"], ref["length"]] for ref in refs)
                    for refs in out["evm"]["deployedBytecode"].get("immutableReferences", {}).values()
                ),
            }
    return contracts


def compile_files(paths: list[Path], root: Path = REPO_ROOT, compiler: Compiler | None = None) -> dict[str, dict]:
    """Compile Solidity files, naming each unit by its path relative to ``root`` (so that
    relative imports between them resolve)."""
    sources = {Path(p).resolve().relative_to(root.resolve()).as_posix(): Path(p).read_text() for p in paths}
    return compile_sources(sources, compiler)
