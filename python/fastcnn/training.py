class TrainingMixin:
    pass
