"""The import graph of marketplace/ and prover/, read from the source (ast: nothing is imported):
it has no cycle; data flows one way (prover/ never imports marketplace/; chain bindings and file
formats never import the setup pipeline, the agents, the demo or the command line); no agent module
imports another; and no cli module imports another cli module except the shared ``options``.

Every import counts, also those inside functions: a lazy import still ties the two modules
together (the cycle cli/audit -> cli/provider -> cli/corpus -> cli/provider was made of them)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("prover", "marketplace")

# low to high: a module imports only modules of its own layer or a lower one
LAYERS = (
    ("prover",),
    (
        "marketplace.npm",
        "marketplace.progress",
        "marketplace.solc",
        "marketplace.chain",
        "marketplace.contracts",
        "marketplace.settlement",
        "marketplace.store",
        "marketplace.models",
        "marketplace.channel",
        "marketplace.audit",
        "marketplace.retrieval",
    ),
    ("marketplace.setup",),
    ("marketplace.agents",),
    ("marketplace.demo",),
    ("marketplace.cli",),
)
AGENTS = "marketplace.agents"
CLI = "marketplace.cli"
CLI_SHARED = "marketplace.cli.options"


def module_names(root: Path, packages=PACKAGES) -> dict[str, Path]:
    """Dotted module name -> source file, for every .py file of ``packages`` under ``root``."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules that the module ``name`` (source ``path``) imports anywhere in its
    body. ``from P import X`` names the module ``P.X`` when there is one, else ``P``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package, up level - 1 more
                package = name.split(".") if is_package else name.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            # the longest project module the import names (``import a.b.c`` loads a.b.c)
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(root: Path = REPO, packages=PACKAGES) -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    modules = module_names(root, packages)
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as ``[a, b, ..., a]``, or None when it is acyclic (depth-first
    search, iterative so that a deep graph cannot overflow the stack)."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, list[str]]] = [(start, sorted(graph.get(start, ())))]
        path.append(start)
        on_path.add(start)
        while stack:
            node, children = stack[-1]
            if not children:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
                continue
            child = children.pop(0)
            if child in on_path:
                return path[path.index(child) :] + [child]
            if child not in done:
                stack.append((child, sorted(graph.get(child, ()))))
                path.append(child)
                on_path.add(child)
    return None


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def layer_of(name: str) -> int:
    for index, prefixes in enumerate(LAYERS):
        if any(within(name, prefix) for prefix in prefixes):
            return index
    raise AssertionError(f"{name} is in no layer of test_imports.LAYERS: add it where it belongs")


def layering_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import from a module to one of a higher layer (see LAYERS)."""
    return [
        f"{name} imports {target}"
        for name, targets in sorted(graph.items())
        for target in sorted(targets)
        if layer_of(target) > layer_of(name)
    ]


def agent_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import of one agent module by another."""
    return [
        f"{name} imports {target}"
        for name, targets in sorted(graph.items())
        if within(name, AGENTS) and name != AGENTS
        for target in sorted(targets)
        if within(target, AGENTS) and target != AGENTS
    ]


def cli_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import of a cli module by another, other than of the shared ``options``."""
    return [
        f"{name} imports {target}"
        for name, targets in sorted(graph.items())
        if within(name, CLI)
        for target in sorted(targets)
        if within(target, CLI) and target != CLI_SHARED
    ]


@pytest.fixture(scope="module")
def graph():
    return import_graph()


# --- the tree as it is ----------------------------------------------------------------------------


def test_the_graph_covers_both_packages(graph):
    assert {"prover.groth16.prove", "marketplace.setup.pipeline", "marketplace.agents.provider"} <= set(graph)
    assert "marketplace.setup.pipeline" in graph["marketplace.agents.provider"]
    assert "prover.groth16.prove" in graph["marketplace.agents.provider"]


def test_there_is_no_import_cycle(graph):
    assert find_cycle(graph) is None


def test_data_flows_one_way(graph):
    assert layering_violations(graph) == []
    prover_imports = {t for name, targets in graph.items() if within(name, "prover") for t in targets}
    assert not [t for t in prover_imports if within(t, "marketplace")]


def test_no_agent_imports_another(graph):
    agents = [name for name in graph if within(name, AGENTS) and name != AGENTS]
    assert {"marketplace.agents.provider", "marketplace.agents.consumer"} <= set(agents)
    assert agent_violations(graph) == []


def test_cli_modules_import_only_the_shared_helper(graph):
    assert cli_violations(graph) == []
    assert CLI_SHARED in graph["marketplace.cli.model"]


# --- the checker, on planted faults ---------------------------------------------------------------


def test_the_checker_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1] and set(cycle) == {"a", "b", "c"}
    # twin: the same graph without the closing edge is acyclic
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a"}}) is None
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


def test_the_checker_reads_a_planted_cycle_from_source(tmp_path):
    """A package of files whose lazy imports form a cycle (as cli/audit and cli/provider did):
    parsed, never imported, and the cycle is found; the fixed twin is acyclic."""
    package = tmp_path / "marketplace" / "cli"
    package.mkdir(parents=True)
    (tmp_path / "marketplace" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "options.py").write_text("import json\n")
    (package / "audit.py").write_text("def run():\n    from marketplace.cli.provider import model_graph\n")
    (package / "provider.py").write_text("from . import options\n\ndef run():\n    from .audit import run\n")
    graph = import_graph(tmp_path, ("marketplace",))
    assert graph["marketplace.cli.provider"] == {"marketplace.cli.options", "marketplace.cli.audit"}
    assert find_cycle(graph) is not None
    assert cli_violations(graph) == [
        "marketplace.cli.audit imports marketplace.cli.provider",
        "marketplace.cli.provider imports marketplace.cli.audit",
    ]
    (package / "audit.py").write_text("def run():\n    from marketplace.cli.options import model_graph\n")
    (package / "provider.py").write_text("from . import options\n")
    graph = import_graph(tmp_path, ("marketplace",))
    assert find_cycle(graph) is None and cli_violations(graph) == []


def test_the_checker_finds_planted_layering_and_agent_faults():
    graph = {
        "prover.groth16.prove": {"marketplace.contracts"},
        "marketplace.contracts": {"marketplace.agents.provider"},
        "marketplace.agents.provider": {"marketplace.agents.consumer", "marketplace.setup.pipeline"},
        "marketplace.agents.consumer": set(),
        "marketplace.setup.pipeline": set(),
    }
    assert layering_violations(graph) == [
        "marketplace.contracts imports marketplace.agents.provider",
        "prover.groth16.prove imports marketplace.contracts",
    ]
    assert agent_violations(graph) == ["marketplace.agents.provider imports marketplace.agents.consumer"]
    with pytest.raises(AssertionError, match="no layer"):
        layer_of("marketplace.somewhere_new")


# --- what a prover process loads ------------------------------------------------------------------

# what `zkmarket groth16 prove` and `zkmarket model prove` load: their group's parser and the
# modules their verbs import
PROVE_STACKS = {
    "groth16": "prover.groth16.prove, prover.formats.zkey, prover.formats.wtns, prover.formats.snarkjs_json",
    "model": "marketplace.setup.model_folder, marketplace.progress, prover.groth16.keys, prover.groth16.prove, "
    "prover.groth16.verify, prover.onnx.executor, prover.formats.zkey, prover.formats.snarkjs_json",
}
LOADED = """
import sys
from marketplace.cli import build_parser
build_parser({group})
import {modules}
print(" ".join(sorted(sys.modules)))
"""


def _loaded(group: str | None, modules: str) -> set[str]:
    import subprocess
    import sys

    code = LOADED.format(group=repr(group), modules=modules)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    return set(out.stdout.split())


@pytest.mark.parametrize("group", sorted(PROVE_STACKS))
def test_a_prove_command_loads_only_what_it_uses(group):
    """`zkmarket groth16 prove` and `zkmarket model prove` start without the ONNX, chain,
    setup-pipeline or py_ecc stacks (nor does the full parser, every command group, load them);
    the twin: what `model compile` imports (the pipeline) does load ONNX, so the check sees it
    when it is there."""
    heavy = {"onnx", "onnxruntime", "web3", "py_ecc", "prover.kernels.reference", "marketplace.setup.pipeline"}
    assert heavy & _loaded(group, PROVE_STACKS[group]) == set()
    assert heavy & _loaded(None, PROVE_STACKS[group]) == set()
    assert "onnx" in _loaded(group, PROVE_STACKS[group] + ", marketplace.setup.pipeline")
