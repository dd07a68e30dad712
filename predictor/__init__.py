"""Next-item / next-action, churn and forecast models: train, evaluate, version, predict."""

from predictor.churn import ChurnConfig, load_churn, train_churn
from predictor.errors import ModelCorrupt, ModelNotTrained, NotEnoughData, PredictorError, UnknownUser
from predictor.forecast import forecast_metric, load_forecast, train_forecast
from predictor.next_item import NextModel, predict_next, train_next
from predictor.registry import MODEL_NAMES, ModelRegistry, ModelVersion
from predictor.sasrec import SASRecConfig
from predictor.source import warehouse_query

__all__ = [
    "MODEL_NAMES",
    "ChurnConfig",
    "ModelCorrupt",
    "ModelNotTrained",
    "ModelRegistry",
    "ModelVersion",
    "NextModel",
    "NotEnoughData",
    "PredictorError",
    "SASRecConfig",
    "UnknownUser",
    "forecast_metric",
    "load_churn",
    "load_forecast",
    "predict_next",
    "train_churn",
    "train_forecast",
    "train_next",
    "warehouse_query",
]
