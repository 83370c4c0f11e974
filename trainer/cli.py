"""``stylize-train`` command line."""

import sys


def main() -> None:
    print("stylize-train: training is not available yet", file=sys.stderr)
    sys.exit(2)
