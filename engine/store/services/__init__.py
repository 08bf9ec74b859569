"""The Store's API, one module per subsystem; :class:`engine.store.store.Store` composes them."""
