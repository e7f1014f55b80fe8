"""``python -m benchmarks [NAME [ARGS...]]``: run one benchmark (its own options after the name)
or, without a name, every benchmark with its defaults."""

import importlib
import sys

from benchmarks import BENCHMARKS


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        print("benchmarks:", ", ".join(BENCHMARKS))
        return 0
    if argv and argv[0] not in BENCHMARKS:
        print(f"unknown benchmark {argv[0]!r}: choose one of {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    names, args = (argv[:1], argv[1:]) if argv else (list(BENCHMARKS), [])
    status = 0
    for name in names:
        status |= importlib.import_module(BENCHMARKS[name]).main(args)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
