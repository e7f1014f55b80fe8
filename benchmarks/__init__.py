"""Side-by-side benchmarks against peers on the same machine: ``python -m benchmarks [NAME ...]``.

Each benchmark is a module with ``main(argv) -> int``, registered by name in ``BENCHMARKS``;
results go to ``benchmarks/results/`` as JSON, cached inputs to ``benchmarks/.cache/``.
"""

import json
from pathlib import Path

BENCHMARKS = {
    "kernels": "benchmarks.kernels",
    "groth16": "benchmarks.groth16_prove",
    "gas": "benchmarks.gas",
    "models": "benchmarks.models",
    "ceremony": "benchmarks.ceremony",
    "accuracy_retrieval": "benchmarks.accuracy_retrieval",
    "poseidon": "benchmarks.poseidon",
    "sumcheck": "benchmarks.sumcheck",
    "model_prove": "benchmarks.model_prove",
    "zoo": "benchmarks.zoo",
}

HERE = Path(__file__).resolve().parent
CACHE_DIR = HERE / ".cache"
RESULTS_DIR = HERE / "results"


def earlier_rows(name: str) -> list[dict]:
    """The rows of ``benchmarks/results/NAME`` as last saved (none if it is absent or unreadable),
    so that a run of some cases keeps the others' rows."""
    try:
        return list(json.loads((RESULTS_DIR / name).read_text()).get("rows", []))
    except (OSError, ValueError):
        return []


def save_result(name: str, result: dict) -> Path:
    """Write ``result`` as ``benchmarks/results/NAME`` (atomically) and say where."""
    from prover.formats.binfile import atomic_output

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / name
    with atomic_output(path, "w") as out:
        json.dump(result, out, indent=1)
    print(f"saved {path}")
    return path
