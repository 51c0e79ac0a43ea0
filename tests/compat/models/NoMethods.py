class NoMethods:
    """No user methods at all."""
