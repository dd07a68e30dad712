"""User profile: one user's attributes (email masked), activity summary and recent timeline."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from warehouse.analytics._base import Result, UnknownUser, bar_chart, lit, run
from warehouse.safe_sql import SafeSql


class UserProfileRequest(BaseModel):
    """Who one user is and what they did lately."""

    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(..., min_length=1, max_length=200, description="The user's id, exactly as stored.")
    recent: int = Field(20, ge=1, le=200, description="How many of the latest events to list.")

    id_fields: ClassVar[tuple[str, ...]] = ("user_id",)
    """Arguments whose value must be an id the conversation names (``agent.grounded_args``)."""
    asked_for: ClassVar[re.Pattern[str]] = re.compile(
        r"\bwhere\s+(?:is|are|was|were|does|do)\s+(?:they|he|she|this\s+\w+|the\s+\w+|(?:user|customer)\s+\S+)\s+"
        r"(?:from|based|located|live)\b|\b(?:their|his|her)\s+(?:country|device|channel|profile|signup\s+date)\b|"
        r"\b(?:what|which)\s+(?:device|channel|country)\s+(?:do|does|did|is|was|are)\b|\bprofile\b|\btell\s+me\s+(?:more\s+)?about\s+(?:them|him|her|this|user)|"
        r"\bwhen\s+did\s+(?:they|he|she|(?:user|customer)\s+\S+)\s+(?:sign\s*up|join|register)|"
        r"\b(?:sign[\s-]?up|registration|join)\s+date\b|用户画像|来自哪|用什么设备|什么时候注册",
        re.IGNORECASE,
    )
    """A question asking who a user is (where they are from, their device): after the step that found the
    user, this call is next (``agent.graph``)."""

    def grounded_values(self) -> list[str]:
        """The user id must come from the question or an earlier result (``agent.tool_runner``)."""
        return [self.user_id]


def compile_user_profile(request: UserProfileRequest) -> list[str]:
    """The queries: attributes, events by type, orders, reviews, recent timeline."""
    uid = lit(request.user_id)
    return [
        f"SELECT u.user_id, u.signup_ts, u.country, u.device, u.channel, u.email FROM users AS u WHERE u.user_id = {uid}",
        f"SELECT e.event_type, COUNT(*) AS events, MIN(e.ts) AS first_ts, MAX(e.ts) AS last_ts, "
        f"COUNT(DISTINCT e.session_id) AS sessions FROM events AS e WHERE e.user_id = {uid} GROUP BY e.event_type ORDER BY 2 DESC, 1",
        f"SELECT COUNT(*) AS orders, COALESCE(SUM(o.total), 0) AS total_spent FROM orders AS o WHERE o.user_id = {uid}",
        f"SELECT COUNT(*) AS reviews, AVG(r.rating) AS avg_rating FROM reviews AS r WHERE r.user_id = {uid}",
        f"SELECT e.ts, e.event_type, e.item_id, i.title, e.value, e.session_id FROM events AS e "
        f"LEFT JOIN items AS i ON i.item_id = e.item_id WHERE e.user_id = {uid} "
        f"ORDER BY e.ts DESC, e.event_id DESC LIMIT {request.recent}",
    ]


def user_profile(safe: SafeSql, request: UserProfileRequest, *, user_scope: str | None = None) -> Result:
    """Run a user profile; the table is the recent timeline, ``details`` holds the summary figures."""
    frames, sqls = [], []
    for sql in compile_user_profile(request):
        frame, ran = run(safe, sql, user_scope)
        frames.append(frame)
        sqls.append(ran)
    attrs, by_type, orders, reviews, timeline = frames
    if attrs.empty and by_type.empty:
        raise UnknownUser(f"user {request.user_id!r} not found; check the id (e.g. with run_sql on users)")
    info = attrs.iloc[0].to_dict() if not attrs.empty else {"user_id": request.user_id}
    counts = {row.event_type: int(row.events) for row in by_type.itertuples()}
    details = {
        **{k: (None if v is None else str(v)) for k, v in info.items()},
        "events": sum(counts.values()),
        "events_by_type": counts,
        "first_seen": str(by_type["first_ts"].min()) if not by_type.empty else None,
        "last_seen": str(by_type["last_ts"].max()) if not by_type.empty else None,
        "orders": int(orders["orders"].iloc[0]),
        "total_spent": round(float(orders["total_spent"].iloc[0]), 2),
        "reviews": int(reviews["reviews"].iloc[0]),
        "avg_rating": None if reviews["avg_rating"].isna().iloc[0] else round(float(reviews["avg_rating"].iloc[0]), 2),
    }
    mix = ", ".join(f"{k} {v}" for k, v in counts.items()) or "no events"
    summary = (
        f"User {request.user_id}: country {info.get('country') or 'unknown'}, device {info.get('device') or 'unknown'}, "
        f"channel {info.get('channel') or 'unknown'}, signed up {info.get('signup_ts') or 'unknown'}; {details['events']} events "
        f"({mix}) from {details['first_seen']} to {details['last_seen']}; {details['orders']} orders totalling "
        f"{details['total_spent']:,.2f}; {details['reviews']} reviews."
    )
    chart = bar_chart(f"events of {request.user_id} by type", list(counts), list(counts.values()))
    return Result("user_profile", timeline, sqls, summary, chart, details)
