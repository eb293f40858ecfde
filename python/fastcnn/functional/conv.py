"""conv ops."""
__all__: list = []
