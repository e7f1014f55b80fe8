"""`python scripts/deploy.py ...` = `zkmarket deploy ...` (see marketplace/cli/deploy.py)."""

import sys

from marketplace.cli import main

if __name__ == "__main__":
    sys.exit(main(["deploy", *sys.argv[1:]]))
