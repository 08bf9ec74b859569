"""cmp-provisioning engine: the plain-Python core (no Ray outside engine/runtime.py)."""

__version__ = "0.1.0"
