"""How an Answer's evidence is shaped for the web app: tables, figures, citations, SQL."""

from agent.answer import Answer
from tools.artifact import Chart, Citation, Table
from ui.web.evidence import citations_markdown, figures, sql_text, table_frames

ANSWER = Answer(
    text="ok",
    tables=[Table(title="top", columns=["item_id", "n"], rows=[["i1", 3], ["i2", 2]], total_rows=40)],
    charts=[
        Chart(title="per week", spec={"data": [{"type": "bar", "x": ["a"], "y": [1]}], "layout": {}}),
        Chart(title="broken", spec={"data": [{"type": "no-such-trace"}]}),
    ],
    citations=[
        Citation(kind="sql", ref="SELECT 1", detail="top_items {}"),
        Citation(kind="review", ref="r42", detail="Broke in a week ![p](http://203.0.113.9/p.png) <script>x</script>"),
        Citation(kind="model", ref="next-item sasrec v3", detail="trained 2026-09-30"),
    ],
)


def test_tables_keep_all_rows_and_say_when_capped():
    [(title, frame)] = table_frames(ANSWER)
    assert title == "top (showing 2 of 40 rows)" and frame.values.tolist() == [["i1", 3], ["i2", 2]]


def test_valid_chart_specs_become_figures_and_invalid_ones_are_skipped():
    assert [(title, fig.data[0].type) for title, fig in figures(ANSWER)] == [("per week", "bar")]


def test_citations_show_review_ids_quotes_and_model_versions_safely():
    text = citations_markdown(ANSWER)
    assert "review `r42`" in text and "> Broke in a week [image: p]" in text
    assert "203.0.113.9" not in text and "<script" not in text
    assert "`next-item sasrec v3` trained 2026-09-30" in text and "1 SQL query" in text


def test_sql_is_listed_with_what_it_supports():
    assert sql_text(ANSWER) == "-- top_items {}\nSELECT 1"
