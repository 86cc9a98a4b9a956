"""The ``pve`` command. The only module that wires every package together."""

from __future__ import annotations

import argparse
import sys

from pve import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pve", description="PVE, the Truth Engine: zero-trust fix verification.")
    parser.add_argument("--version", action="version", version=f"pve {__version__}")
    parser.parse_args(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
