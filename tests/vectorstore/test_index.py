"""Indexing and searching reviews on a real Chroma directory: round trip, incremental runs, filters vs SQL."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.vectorstore.conftest import load_reviews, review_rows
from vectorstore import Embedder, ReviewIndex, index_reviews, search_reviews


def _open(tmp_path: Path, embedder, **kw) -> ReviewIndex:
    return ReviewIndex.open(tmp_path / "reviews", embedder=embedder, **kw)


def test_round_trip_on_both_warehouse_engines(warehouse, embedder, tmp_path):
    load_reviews(warehouse, review_rows())
    index = _open(tmp_path, embedder)
    report = index_reviews(warehouse, index)
    assert (report.reviews, report.added, report.embedded) == (60, 60, 60)
    assert index.count() == 60
    hits = search_reviews(index, "SM57 on snare drum", k=5)
    assert hits[0].item_id == "i-mic" and "SM57" in hits[0].snippet
    assert all(h.category == "Microphones" for h in hits[:5])
    top = hits[0]
    row = next(r for r in review_rows() if r["review_id"] == top.review_id)
    assert (top.rating, top.date, top.user_id) == (row["rating"], row["ts"].date().isoformat(), row["user_id"])


def test_incremental_reindex_embeds_only_changed_rows(review_warehouse, embedder, tmp_path):
    index = _open(tmp_path, embedder)
    index_reviews(review_warehouse, index)
    with review_warehouse.begin() as conn:
        conn.execute(
            text(
                "UPDATE reviews SET body = 'the knob fell off after the zebrawood case cracked' WHERE review_id = 'r0001'"
            )
        )
        conn.execute(text("UPDATE reviews SET rating = 5 WHERE review_id = 'r0002'"))
        conn.execute(text("DELETE FROM reviews WHERE review_id = 'r0003'"))
    load_reviews(
        review_warehouse, [{**review_rows(1)[0], "review_id": "r9999", "body": "brand new quokka review"}], items=False
    )

    before = embedder.embedded
    report = index_reviews(review_warehouse, index)
    assert embedder.embedded - before == 2  # r0001 (text changed) and r9999 (new); nothing else
    assert (report.added, report.updated, report.metadata_only, report.deleted, report.unchanged) == (1, 1, 1, 1, 57)
    assert index.count() == 60

    assert search_reviews(index, "zebrawood", k=1, mode="keyword")[0].review_id == "r0001"
    assert search_reviews(index, "quokka", k=1)[0].review_id == "r9999"
    assert "r0003" not in {h.review_id for h in search_reviews(index, "tuner", k=60)}
    five_star = {h.review_id for h in search_reviews(index, "review", min_rating=5, k=60)}
    assert "r0002" in five_star

    before = embedder.embedded
    again = index_reviews(review_warehouse, index)
    assert embedder.embedded == before and again.unchanged == 60 and again.embedded == 0


FILTERS = [
    {"item": "i-str"},
    {"category": "Effects", "min_rating": 3},
    {"min_rating": 2, "max_rating": 3, "since": date(2024, 2, 15)},
    {"until": date(2024, 3, 31), "category": "Microphones"},
    {"item": "i-amp", "since": date(2024, 3, 1), "until": date(2024, 5, 31), "max_rating": 4},
    {"item": "no-such-item"},
]


def _sql_ids(warehouse, f: dict) -> set[str]:
    where, params = ["1=1"], {}
    if "item" in f:
        where.append("r.item_id = :item")
        params["item"] = f["item"]
    if "category" in f:
        where.append("i.category = :category")
        params["category"] = f["category"]
    if "min_rating" in f:
        where.append("r.rating >= :lo")
        params["lo"] = f["min_rating"]
    if "max_rating" in f:
        where.append("r.rating <= :hi")
        params["hi"] = f["max_rating"]
    if "since" in f:
        where.append("CAST(r.ts AS DATE) >= :since")
        params["since"] = f["since"]
    if "until" in f:
        where.append("CAST(r.ts AS DATE) <= :until")
        params["until"] = f["until"]
    sql = f"SELECT r.review_id FROM reviews r LEFT JOIN items i ON i.item_id = r.item_id WHERE {' AND '.join(where)}"
    with warehouse.engine.connect() as conn:
        return {row[0] for row in conn.execute(text(sql), params)}


@pytest.mark.parametrize("mode", ["hybrid", "vector", "keyword"])
def test_filters_select_exactly_the_rows_sql_selects(review_warehouse, embedder, tmp_path, mode):
    index = _open(tmp_path, embedder)
    index_reviews(review_warehouse, index)
    for f in FILTERS:
        expected = _sql_ids(review_warehouse, f)
        # "bought" is in every review, so keyword search can reach every row too.
        got = {h.review_id for h in search_reviews(index, "bought it", k=100, mode=mode, **f)}
        assert got == expected, f
        assert expected or f["item"] == "no-such-item"


def test_exact_rare_terms_are_found_by_hybrid_search(review_warehouse, embedder, tmp_path):
    load_reviews(
        review_warehouse,
        [
            {**review_rows(1)[0], "review_id": "rare-1", "body": "My ZQ-9000X preamp died after a week."},
        ],
        items=False,
    )
    index = _open(tmp_path, embedder)
    index_reviews(review_warehouse, index)
    hits = search_reviews(index, "ZQ9000X", k=3)
    assert hits[0].review_id == "rare-1" and hits[0].keyword_rank == 1


def test_reopening_from_disk_in_a_new_process_gives_the_same_results(review_warehouse, embedder, tmp_path):
    index = _open(tmp_path, embedder)
    index_reviews(review_warehouse, index)
    queries = [("strings rust", {}), ("battery door", {"min_rating": 2}), ("hum", {"category": "Amplifiers"})]
    here = [[(h.review_id, h.rating, h.snippet) for h in search_reviews(index, q, k=5, **f)] for q, f in queries]
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from vectorstore import ReviewIndex, search_reviews\n"
        f"index = ReviewIndex.open(Path({str(tmp_path / 'reviews')!r}))\n"
        f"queries = {queries!r}\n"
        "out = [[(h.review_id, h.rating, h.snippet) for h in search_reviews(index, q, k=5, **f)] for q, f in queries]\n"
        "json.dump(out, sys.stdout)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    there = [[tuple(h) for h in hits] for hits in json.loads(done.stdout)]
    assert there == here


class _Crash(RuntimeError):
    pass


class _CrashingEmbedder(Embedder):
    """Shares a loaded model; raises after ``batches`` successful calls (a run killed half way)."""

    def __init__(self, model, batches: int) -> None:
        super().__init__()
        self._model = model
        self._left = batches

    def embed(self, texts):
        if self._left == 0:
            raise _Crash("killed")
        self._left -= 1
        return super().embed(texts)


def test_an_interrupted_run_leaves_a_usable_store_and_resumes(review_warehouse, embedder, tmp_path):
    crashing = _CrashingEmbedder(embedder.model, batches=2)
    with pytest.raises(_Crash):
        index_reviews(review_warehouse, _open(tmp_path, crashing), batch_size=16)
    partial = _open(tmp_path, embedder)
    assert partial.count() == 32
    assert len(search_reviews(partial, "guitar strings", k=5)) == 5
    assert len(partial.keyword) == 32

    before = embedder.embedded
    report = index_reviews(review_warehouse, partial, batch_size=16)
    assert embedder.embedded - before == 28 and report.added == 28 and report.unchanged == 32
    reopened = _open(tmp_path, embedder)
    assert reopened.count() == 60 and len(reopened.keyword) == 60


def test_review_dates_are_exact_at_day_boundaries(review_warehouse, embedder, tmp_path):
    load_reviews(
        review_warehouse,
        [
            {
                **review_rows(1)[0],
                "review_id": "edge",
                "ts": datetime(2030, 1, 1, 23, 59, 59),
                "body": "late night ocarina",
            },
        ],
        items=False,
    )
    index = _open(tmp_path, embedder)
    index_reviews(review_warehouse, index)
    assert [h.review_id for h in search_reviews(index, "ocarina", since="2030-01-01", until="2030-01-01", k=3)] == [
        "edge"
    ]
    assert search_reviews(index, "ocarina", since="2030-01-02", k=3) == []


def test_a_long_running_reader_picks_up_another_processes_index_run(review_warehouse, embedder, tmp_path):
    reader = _open(tmp_path, embedder)
    index_reviews(review_warehouse, _open(tmp_path, embedder))
    assert search_reviews(reader, "theremin", k=1, mode="keyword") == []
    load_reviews(
        review_warehouse, [{**review_rows(1)[0], "review_id": "late", "body": "a theremin review"}], items=False
    )
    index_reviews(review_warehouse, _open(tmp_path, embedder))
    reader.refresh_if_stale(max_age_s=0)
    assert [h.review_id for h in search_reviews(reader, "theremin", k=1, mode="keyword")] == ["late"]


def test_chroma_never_embeds_by_itself(review_warehouse, embedder, tmp_path):
    index = _open(tmp_path, embedder)
    index_reviews(review_warehouse, index)
    # No embedding function is attached, so a text query fails instead of downloading Chroma's default model.
    with pytest.raises(ValueError, match="embedding function"):
        index.collection.query(query_texts=["strings"], n_results=1)
    reopened = ReviewIndex.open(tmp_path / "reviews", embedder=embedder)
    with pytest.raises(ValueError, match="embedding function"):
        reopened.collection.query(query_texts=["strings"], n_results=1)
