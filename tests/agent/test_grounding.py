"""The grounded-number check accepts numbers the tools returned and rejects invented ones."""

from agent.grounding import evidence_values, numbers_in, ungrounded_numbers

EVIDENCE = evidence_values(["week 2024-03-04: purchases 1234, conversion 0.2318, revenue 98765.4321"])


def test_numbers_from_tools_pass_at_the_precision_they_are_written():
    answer = "Purchases were 1,234; conversion 23.2% (0.23); revenue 98,765.43 in the week of 2024-03-04."
    assert ungrounded_numbers(answer, EVIDENCE) == []


def test_a_number_cut_off_at_its_precision_passes_but_not_one_beyond_it():
    evidence = evidence_values(["avg_rating\n3.69896"])
    assert ungrounded_numbers("The average rating is 3.69 (3.7, 3.70).", evidence) == []
    assert ungrounded_numbers("The average rating is 3.71 or 3.68.", evidence) == ["3.71", "3.68"]


def test_invented_numbers_are_named():
    assert ungrounded_numbers("Purchases were 1,500 and conversion 31%.", EVIDENCE) == ["1,500", "31"]


def test_small_integers_and_identifiers_are_prose_not_findings():
    assert ungrounded_numbers("The top 3 items; user u00042 and item i0007 stand out.", EVIDENCE) == []
    assert "00042" not in numbers_in("user u00042")


def test_numbers_inside_chinese_text_are_checked():
    assert numbers_in("2026年10月共有1,234次购买，转化率23.2%。") == ["2026", "10", "1,234", "23.2"]
    assert ungrounded_numbers("共有1500次购买", EVIDENCE) == ["1500"]


def test_a_date_is_one_literal_checked_against_the_dates_in_the_evidence():
    assert numbers_in("from 2026-08-03 to 2026-10-31") == ["2026-08-03", "2026-10-31"]
    assert ungrounded_numbers("In the week of 2024-03-04 there were 1,234 purchases.", EVIDENCE) == []
    assert ungrounded_numbers("On 2024-03-11 there were 1,234 purchases.", EVIDENCE) == ["2024-03-11"]
    # the parts of an evidence date stand on their own too ("in 2024")
    assert ungrounded_numbers("In 2024, 1,234 purchases.", EVIDENCE) == []


def test_a_difference_of_two_headline_numbers_passes_but_not_a_ratio_or_a_short_number():
    from agent.grounding import derived_values

    headlines = ["revenue, October: 146,232.33.", "revenue, September: 101,650.93."]
    derived = derived_values(headlines)
    evidence = evidence_values(headlines)
    assert ungrounded_numbers("October made 44,581.40 more.", evidence, derived) == []
    assert ungrounded_numbers("October made 44,581.40 more.", evidence) == ["44,581.40"]
    # a percentage is not derived (the tool states it); a short number could match by chance
    assert ungrounded_numbers("up 43.9%", evidence, derived) == ["43.9"]
    assert ungrounded_numbers("about 44 more", evidence, derived) == ["44"]
