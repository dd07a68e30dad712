"""The minimum group size of a breakdown over users: a value computed from too few users is suppressed.

A result row whose value comes from at least one and fewer than ``k`` distinct users keeps its
labels but loses its numbers (shown as suppressed), and the result's summary says how many rows
were suppressed and why. For a caller scoped to one end user that user's own rows do not count:
seeing your own data discloses nobody else, so only the other users in a group are counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlglot import exp

GROUP_USERS = "group_users"
"""The helper column a query adds when its rows are checked: distinct users behind the row."""
SUPPRESSED = "suppressed"
"""The column marking a suppressed row in a result table."""


@dataclass(frozen=True)
class GroupFloor:
    """The smallest number of users a shown value may come from, for one caller (0: no floor)."""

    min_users: int = 0
    caller: str | None = None
    """The scoped end user, whose own rows are not counted; None for an unscoped caller."""

    @property
    def on(self) -> bool:
        """Whether rows are checked at all."""
        return self.min_users > 0

    def users_sql(self, column: str) -> str:
        """SQL counting the distinct users in ``column`` that count towards a group (the caller excluded)."""
        if self.caller is None:
            return f"COUNT(DISTINCT {column})"
        caller = exp.Literal.string(self.caller).sql()
        return f"COUNT(DISTINCT CASE WHEN {column} <> {caller} THEN {column} END)"

    def too_small(self, users: pd.Series, *, counts_caller: bool = False) -> pd.Series:
        """Which groups of ``users`` (distinct users per row) fall under the floor. ``counts_caller``: the counts
        include the scoped caller (an analytic counting in pandas: every row a scope sees is its own)."""
        users = pd.to_numeric(users, errors="coerce").fillna(0)
        if counts_caller and self.caller is not None:
            users = (users - 1).clip(lower=0)
        if not self.on:
            return pd.Series(False, index=users.index)
        return (users > 0) & (users < self.min_users)

    def apply(self, frame: pd.DataFrame, values: list[str]) -> tuple[pd.DataFrame, int]:
        """``frame`` with ``values`` emptied on rows from too few users and the helper column dropped;
        (frame, rows suppressed). A frame without the helper column is returned as it is."""
        if GROUP_USERS not in frame:
            return frame, 0
        small = self.too_small(frame[GROUP_USERS])
        return suppress(frame.drop(columns=[GROUP_USERS]), small, values), int(small.sum())

    def note(self, suppressed: int, rows: int) -> str:
        """The sentence a summary ends with when rows were suppressed."""
        if not suppressed:
            return ""
        which = "the only row was" if rows == 1 else f"{suppressed} of {rows} rows were"
        return (
            f" Suppressed: {which} computed from fewer than {self.min_users} users (the minimum group size "
            "for breakdowns over users), so their values are not shown."
        )


def suppress(frame: pd.DataFrame, small: pd.Series, values: list[str]) -> pd.DataFrame:
    """``frame`` with ``values`` emptied (NaN) on the ``small`` rows and a ``suppressed`` column, when any is small."""
    if not small.any():
        return frame
    frame = frame.copy()
    columns = [c for c in values if c in frame]
    frame[columns] = frame[columns].apply(pd.to_numeric, errors="coerce").astype(float)
    frame.loc[small.to_numpy(), columns] = float("nan")
    frame[SUPPRESSED] = small.to_numpy()
    return frame


def is_suppressed(row: pd.Series) -> bool:
    """Whether a result row's values were suppressed."""
    return bool(row.get(SUPPRESSED, False))
