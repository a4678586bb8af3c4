"""Read models of the registry, kept from its own event log (rebuildable at any time)."""
