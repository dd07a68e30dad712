"""The windows a question names, relative to the data's last day."""

from __future__ import annotations

from datetime import date

import pytest

from warehouse.semantic.windows import WindowChoices, window_choices

END = date(2026, 10, 31)


@pytest.mark.parametrize(
    "question, days, spans",
    [
        ("Purchases in the last 30 days?", [30], []),
        ("Sign-ups over the past two weeks", [14], []),
        ("Revenue this past week versus the one before", [7], []),
        ("最近7天一共有多少笔购买？", [7], []),
        ("How many orders in October?", [], [("2026-10-01", "2026-10-31")]),
        ("Active in September and also in October?", [], [("2026-09-01", "2026-09-30"), ("2026-10-01", "2026-10-31")]),
        ("Orders in December", [], [("2025-12-01", "2025-12-31")]),  # the latest December up to the data's end
        ("Buyers in March 2026", [], [("2026-03-01", "2026-03-31")]),
        ("Users who signed up in the week of October 12", [], [("2026-10-12", "2026-10-18")]),
        ("Sales yesterday", [], [("2026-10-31", "2026-10-31")]),
        ("Views from 2026-10-03 to 2026-10-09", [], [("2026-10-03", "2026-10-09")]),
        ("10月的收入是多少？", [], [("2026-10-01", "2026-10-31")]),
    ],
)
def test_named_windows(question, days, spans):
    assert window_choices(question, END) == WindowChoices(last_days=days, spans=spans)


def test_no_time_named_is_all_data_and_time_not_understood_is_left_open():
    assert window_choices("Which brand sells best?", END) == WindowChoices(named=False)
    assert window_choices("What may users buy?", END) is None  # "may" the verb is no month
    assert window_choices("Which hour of the day has most views?", END) is None
    assert window_choices("Revenue in Q3?", END) is None
