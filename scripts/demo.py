"""`python scripts/demo.py ...` = `zkmarket demo ...` (see marketplace/cli/demo.py)."""

import sys

from marketplace.cli import main

if __name__ == "__main__":
    sys.exit(main(["demo", *sys.argv[1:]]))
