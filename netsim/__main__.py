"""``python -m netsim …``: run the simulator (same as ``cmpctl netsim serve``)."""

import sys

from netsim.server import main

if __name__ == "__main__":
    sys.exit(main())
