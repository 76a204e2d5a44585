"""Run genctl as ``python -m genctl``."""

from genctl.cli import main

main()
