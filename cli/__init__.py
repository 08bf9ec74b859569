"""cmpctl: the operator's command line (CLI.md is the contract).

A thin shell: every command parses its options, calls the engine, and renders the result.
Errors are one line on stderr with the exit codes of CLI.md; ``--debug`` shows tracebacks.
"""

from cli.cmpctl import app, main

__all__ = ["app", "main"]
