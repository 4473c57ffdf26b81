"""The agent's score read from the P-GAP attribute's value (pgap.services.score), in the
shapes Dixa has been seen to send, and the attribute found among a conversation's."""

import pytest

from pgap.services.score import MAX_RAW, Reading, attribute_find, score_read

OPTIONS = {"opt-7": "7"}


@pytest.mark.parametrize(
    "raw, score",
    [
        ({"value": ["7"]}, 7),
        ({"id": "opt-7"}, 7),
        (" 7 ", 7),
        (7.0, 7),
        (["7", ""], 7),
        (["p_gap", "7", None], 7),
        ("0", 0),
        (0, 0),
        ("10", 10),
        (10, 10),
    ],
)
def test_a_score_from_0_to_10_is_read_from_every_shape(raw, score):
    assert score_read(raw, options=OPTIONS) == Reading(score)
    assert score_read(raw, options=OPTIONS).missing is False


@pytest.mark.parametrize("raw", ["", "   ", [None, ""], {"value": None}])
def test_a_blank_value_is_missing(raw):
    assert score_read(raw) == Reading(None, "the attribute has no value", missing=True)


@pytest.mark.parametrize(
    "raw, problem",
    [
        (11, "11 is outside 0–10 (raw value 11)"),
        (-1, "-1 is outside 0–10 (raw value -1)"),
        ("100", '100 is outside 0–10 (raw value "100")'),
        (True, "not a score from 0 to 10: true"),
        (7.5, "not a score from 0 to 10: 7.5"),
        ([{"label": "7"}], 'not a score from 0 to 10: [{"label": "7"}]'),
        ({"value": "ni"}, 'not a score from 0 to 10: {"value": "ni"}'),
        ("syv ☆", 'not a score from 0 to 10: "syv ☆"'),
        ("\u0667", 'not a score from 0 to 10: "\u0667"'),  # an Arabic-Indic 7
        ("\u00b2", 'not a score from 0 to 10: "\u00b2"'),  # superscript two
        ("0007", 'not a score from 0 to 10: "0007"'),
    ],
)
def test_an_invalid_value_is_not_missing_and_says_why(raw, problem):
    assert score_read(raw) == Reading(None, problem, missing=False)


def test_a_number_of_thousands_of_digits_is_invalid_not_an_error():
    reading = score_read("9" * 5000)
    assert reading.score is None and not reading.missing
    assert reading.problem.startswith('not a score from 0 to 10: "999')


def test_a_long_raw_value_is_quoted_up_to_its_limit():
    # given raw values whose quoted form is exactly MAX_RAW and one character more
    fits, too_long = "x" * (MAX_RAW - 2), "x" * (MAX_RAW - 1)
    # then the first is quoted whole, the second cut to MAX_RAW with an ellipsis
    assert score_read(fits).problem == f'not a score from 0 to 10: "{fits}"'
    quoted = score_read(too_long).problem.removeprefix("not a score from 0 to 10: ")
    assert len(quoted) == MAX_RAW
    assert quoted == '"' + "x" * (MAX_RAW - 2) + "…"


def test_the_attribute_is_found_by_identifier_or_by_id_in_a_mapping():
    assert attribute_find({"p_gap": ["7"]}, identifier="p_gap") == (True, ["7"])
    assert attribute_find({"a-1": ["8"]}, identifier="p_gap", attribute_id="a-1") == (True, ["8"])
    assert attribute_find({"other": ["8"]}, identifier="p_gap", attribute_id="a-1") == (False, None)
    # an unset attribute id matches no key
    assert attribute_find({"": ["8"]}, identifier="p_gap") == (False, None)


def test_the_attribute_is_found_by_identifier_or_by_id_in_dixas_list():
    items = [
        "p_gap",
        {"id": "", "identifier": "other", "value": ["1"]},
        {"id": "a-1", "identifier": "renamed", "value": ["8"]},
    ]
    assert attribute_find(items, identifier="p_gap", attribute_id="a-1") == (True, ["8"])
    # without an attribute id, an item with an empty id is not taken for it
    assert attribute_find(items, identifier="p_gap") == (False, None)
    assert attribute_find(items, identifier="renamed") == (True, ["8"])
    assert attribute_find(None, identifier="p_gap") == (False, None)
