"""Errors raised by the predictor; each message names the problem and the fix."""


class PredictorError(Exception):
    """Base class for predictor errors."""


class ModelNotTrained(PredictorError):
    """No version of the asked-for model exists in the registry."""


class ModelCorrupt(PredictorError):
    """A model file is missing, damaged or unreadable."""


class UnknownUser(PredictorError):
    """The user id is not in the warehouse."""


class NotEnoughData(PredictorError):
    """The warehouse holds too little data to train or evaluate the model."""
