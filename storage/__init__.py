"""tminus."""
