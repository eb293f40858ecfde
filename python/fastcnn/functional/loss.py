"""loss ops."""
__all__: list = []
