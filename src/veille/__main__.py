"""`python -m veille` is the `veille` command."""

from veille.app.cli.main import main

main(prog_name="veille")
