"""`python scripts/provider.py ...` = `zkmarket provider ...` (see marketplace/cli/provider.py)."""

import sys

from marketplace.cli import main

if __name__ == "__main__":
    sys.exit(main(["provider", *sys.argv[1:]]))
