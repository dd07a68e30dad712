"""The Chinese words for the generated layer's measures and dimensions: a question asked in Chinese names
them as an English one does ("哪个品类的总收入最高": the category dimension, the revenue measure). Added to
each entry's synonyms, so the grammar's narrowing (``agent.grounded_args``), the linker and the coverage
check read them like any other synonym; an operator's layer file adds its own."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

MEASURE_WORDS: dict[str, tuple[str, ...]] = {
    "events": ("事件数",),
    "active_users": ("用户", "活跃用户", "活跃用户数"),
    "views": ("浏览量", "浏览次数"),
    "searches": ("搜索量", "搜索次数"),
    "add_to_carts": ("加购次数", "加购量"),
    "favorites": ("收藏次数", "收藏量"),
    "purchases": ("购买次数", "购买量"),
    "users_who_viewed": ("浏览用户", "浏览人数"),
    "users_who_added_to_cart": ("加购用户", "加购人数"),
    "users_who_purchased": ("购买用户", "购买人数", "付费用户"),
    "revenue": ("收入", "总收入", "营收", "销售额", "成交额", "营业额"),
    "orders": ("订单", "订单数", "订单量"),
    "avg_order_value": ("客单价", "平均订单金额", "平均订单价值", "平均订单额"),
    "median_order_value": ("订单金额中位数",),
    "order_total": ("订单总额", "订单总金额"),
    "signups": ("新用户", "注册用户", "注册数", "注册量", "新注册用户"),
    "sessions": ("会话", "会话数", "访问次数"),
    "avg_events_per_session": ("每个会话的平均事件数", "会话平均事件数"),
    "median_events_per_session": ("会话事件数中位数", "每个会话事件数的中位数"),
    "avg_session_minutes": ("平均会话时长", "会话平均时长"),
    "median_session_minutes": ("会话时长中位数",),
    "purchase_session_share": ("会话转化率",),
    "avg_sessions_per_user": ("人均会话数", "每个用户的平均会话数"),
    "avg_orders_per_user": ("人均订单数", "每个客户的平均订单数"),
    "avg_spend_per_user": ("人均消费", "人均消费金额", "每个客户的平均消费"),
    "reviews": ("评论数", "评论条数"),
    "avg_rating": ("平均评分", "平均星级"),
    "avg_sentiment": ("平均情感", "情感得分"),
    "negative_reviews": ("差评", "负面评论"),
    "negative_review_share": ("差评率", "负面评论占比"),
    "conversion_rate": ("转化率",),
}
DIMENSION_WORDS: dict[str, tuple[str, ...]] = {
    "country": ("国家", "地区"),
    "device": ("设备", "终端"),
    "channel": ("渠道", "获客渠道", "来源渠道"),
    "category": ("品类", "类目", "类别", "分类"),
    "brand": ("品牌",),
    "item": ("商品", "产品"),
    "user": ("用户", "顾客", "客户", "买家"),
    "signup_month": ("注册月份",),
    "hour_of_day": ("小时", "时段", "几点"),
    "weekday": ("星期几", "周几", "星期"),
    "order_status": ("订单状态",),
    "rating": ("评分", "星级"),
}

Entry = TypeVar("Entry", bound=BaseModel)


def with_chinese_words(entries: list[Entry], words: dict[str, tuple[str, ...]]) -> list[Entry]:
    """``entries`` (measures or dimensions) with their Chinese words added to their synonyms."""
    return [
        e.model_copy(update={"synonyms": list(dict.fromkeys([*e.synonyms, *words.get(e.name, ())]))})  # type: ignore[attr-defined]
        for e in entries
    ]
