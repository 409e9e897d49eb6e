"""`python -m json_mapper`: the jsonfilter command, as `cli.run` runs it."""
from .cli import run

run()
