"""`python -m veille` is the `veille` command."""

from .cli import main

main(prog_name="veille")
