"""Typed behavior analytics: validated requests compiled to SQL for DuckDB and PostgreSQL, run read-only."""

from warehouse.analytics._base import AnalyticsError, Day, Result, UnknownUser
from warehouse.analytics.funnel import FunnelRequest, funnel
from warehouse.analytics.paths import PathsRequest, paths
from warehouse.analytics.retention import RetentionRequest, retention
from warehouse.analytics.segment_breakdown import SegmentRequest, segment_breakdown
from warehouse.analytics.top_items import TopItemsRequest, top_items
from warehouse.analytics.trend import TrendRequest, trend
from warehouse.analytics.user_profile import UserProfileRequest, user_profile

__all__ = [
    "Day",
    "AnalyticsError",
    "FunnelRequest",
    "PathsRequest",
    "Result",
    "RetentionRequest",
    "SegmentRequest",
    "TopItemsRequest",
    "TrendRequest",
    "UnknownUser",
    "UserProfileRequest",
    "funnel",
    "paths",
    "retention",
    "segment_breakdown",
    "top_items",
    "trend",
    "user_profile",
]
