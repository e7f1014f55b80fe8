"""The `zkmarket` command line.

Verbs follow snarkjs's form (`zkmarket groth16 prove C.zkey W.wtns proof.json public.json`) so
that users can swap it in. Each command group lives in its own module with a
``register(subparsers)`` function; errors derive from ``ZkmarketError`` and are printed as one
line with a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command group -> module (each owns its verbs)
GROUPS = {
    "groth16": "marketplace.cli.groth16",
    "zkey": "marketplace.cli.zkey",
    "r1cs": "marketplace.cli.r1cs",
    "wtns": "marketplace.cli.wtns",
    "powersoftau": "marketplace.cli.powersoftau",
    "model": "marketplace.cli.model",
    "deploy": "marketplace.cli.deploy",
    "provider": "marketplace.cli.provider",
    "consumer": "marketplace.cli.consumer",
    "demo": "marketplace.cli.demo",
    "audit": "marketplace.cli.audit",
    "corpus": "marketplace.cli.corpus",
    "retrieve": "marketplace.cli.retrieve",
}


def build_parser(group: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command group, or of ``group`` alone: `zkmarket groth16 prove`
    then imports the Groth16 verbs only, not the model, chain and ONNX stacks (start-up in
    tens of milliseconds)."""
    parser = argparse.ArgumentParser(prog="zkmarket", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="group", metavar="COMMAND")
    sub.required = True
    for name, module_name in GROUPS.items():
        if group is not None and name != group:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # group not built yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from prover.errors import ZkmarketError

    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv and argv[0] in GROUPS else None)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except ZkmarketError as exc:
        print(f"zkmarket: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("zkmarket: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
