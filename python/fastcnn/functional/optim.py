"""optim ops."""
__all__: list = []
