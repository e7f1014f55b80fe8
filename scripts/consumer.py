"""`python scripts/consumer.py ...` = `zkmarket consumer ...` (see marketplace/cli/consumer.py)."""

import sys

from marketplace.cli import main

if __name__ == "__main__":
    sys.exit(main(["consumer", *sys.argv[1:]]))
