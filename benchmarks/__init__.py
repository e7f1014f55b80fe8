"""Side-by-side benchmarks against peers on the same machine: ``python -m benchmarks [NAME ...]``.

Each benchmark is a module with ``main(argv) -> int``, registered by name in ``BENCHMARKS``;
results go to ``benchmarks/results/`` as JSON, cached inputs to ``benchmarks/.cache/``.
"""

from pathlib import Path

BENCHMARKS = {
    "kernels": "benchmarks.kernels",
    "groth16": "benchmarks.groth16_prove",
    "gas": "benchmarks.gas",
    "models": "benchmarks.models",
    "ceremony": "benchmarks.ceremony",
    "accuracy_retrieval": "benchmarks.accuracy_retrieval",
}

HERE = Path(__file__).resolve().parent
CACHE_DIR = HERE / ".cache"
RESULTS_DIR = HERE / "results"
