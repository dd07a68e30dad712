"""Personal identifiers in review text: replaced at ingest (unless kept on purpose) and never indexed or quoted."""

from __future__ import annotations

import gzip
import json

import pytest
from sqlalchemy import text

from tests.vectorstore.conftest import embedder  # noqa: F401 (fixture)
from warehouse import Warehouse
from warehouse.loaders import ingest
from warehouse.redaction import Redactor

# Real-format review sentences (as customers write them), each with the identifiers planted in it.
PLANTED = [
    (
        "Strings arrived rusty. Seller never answered, email them at support.team@guitarshop-direct.com if you dare.",
        ["support.team@guitarshop-direct.com"],
    ),
    (
        "Works great!! If anyone wants my old one text me 555-867-5309 or (212) 555-0147 :)",
        ["555-867-5309", "(212) 555-0147"],
    ),
    ("Call the UK service line on +44 20 7946 0958, they sorted my broken jack in a day.", ["+44 20 7946 0958"]),
    (
        "Same cable is cheaper here: https://www.example-music.com/cables?id=123&ref=abc and at www.cheapcables.net/deal",
        ["https://www.example-music.com/cables?id=123&ref=abc", "www.cheapcables.net/deal"],
    ),
    (
        "I paid with my card 4111 1111 1111 1111 and got charged twice. Contact me: JANE_DOE99@Yahoo.co.uk",
        ["4111 1111 1111 1111", "JANE_DOE99@Yahoo.co.uk"],
    ),
    ("my number is +1 415 555 2671 call after 6pm, the tuner is great", ["+1 415 555 2671"]),
]

# Real review fragments (from the Amazon Musical Instruments reviews) that hold no identifier.
CLEAN = [
    "At full price of 16.99, it is a solid deal.",
    "slightly lighter D and A strings (.025/.026 and .034/.036 respectively)",
    "The model number is 33-3001, probably also discontinued.",
    "Also with the price range of 130-160 dollars its a huge bargain.",
    "Tuned to 440 Hz in 2014-03-05, 9V battery, SM57 on the snare.It sounds great.As an added bonus it was cheap.",
]


@pytest.fixture(scope="module")
def redactor():
    return Redactor()


@pytest.mark.parametrize("review, identifiers", PLANTED)
def test_every_planted_identifier_is_removed(redactor, review, identifiers):
    redacted = redactor.redact(review)
    for identifier in identifiers:
        assert identifier not in redacted.text
    assert sum(redacted.found.values()) == len(identifiers)
    assert any(p in redacted.text for p in ("<EMAIL>", "<PHONE>", "<URL>", "<CARD>"))


@pytest.mark.parametrize("review", CLEAN)
def test_prices_gauges_model_numbers_and_run_on_sentences_are_left_alone(redactor, review):
    assert redactor.redact(review).text == review


def _amazon_file(path, bodies: list[str]):
    with gzip.open(path, "wt") as fh:
        for n, body in enumerate(bodies):
            fh.write(
                json.dumps(
                    {
                        "reviewerID": f"A{n}",
                        "asin": "B000PII",
                        "overall": 1.0 + n % 5,
                        "summary": "Contact me at bob@example.org" if n == 0 else "ok",
                        "reviewText": body,
                        "unixReviewTime": 1_400_000_000 + n * 86400,
                    }
                )
                + "\n"
            )
    return path


@pytest.mark.parametrize("keep", [False, True])
def test_ingest_redacts_reviews_unless_asked_to_keep_them_and_the_index_never_holds_them(tmp_path, keep, embedder):
    from vectorstore import ReviewIndex, index_reviews

    bodies = [review for review, _ in PLANTED] + CLEAN
    path = _amazon_file(tmp_path / "reviews.json.gz", bodies)
    warehouse = Warehouse.open(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    warehouse.create_schema()
    ingest(warehouse, path, "amazon-reviews", keep_review_pii=keep)
    with warehouse.engine.connect() as conn:
        stored = " ".join(t or "" for row in conn.execute(text("SELECT title, body FROM reviews")) for t in row)
    planted = ["bob@example.org", *(i for _, ids in PLANTED for i in ids)]
    if keep:
        assert all(i in stored for i in planted)
    else:
        assert not [i for i in planted if i in stored]
        assert all(c in stored for c in CLEAN)  # the rest of the text is as written

    index = ReviewIndex.open(tmp_path / "reviews", embedder=embedder)
    index_reviews(warehouse, index)
    documents = " ".join(doc for _, _, doc in index.stored(include_documents=True))
    assert not [i for i in planted if i in documents]
    assert "<EMAIL>" in documents and "<PHONE>" in documents
    warehouse.dispose()
