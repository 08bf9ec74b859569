"""Thin Ray actor wrappers around the plain engine: naming, restarts, lifetimes, facades.

Nobody outside this package writes ``.remote()`` or ``ray.get()``: use the clients in
:mod:`actors.clients`.
"""
