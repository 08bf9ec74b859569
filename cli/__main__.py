"""`python -m cli`: the same as the `cmpctl` console script."""

from cli.cmpctl import main

main()
