import math

import pytest

from core.analysis.speech_alignment import compare_word_timings, normalise_word

TRUTH = [("The", 0.10, 0.30), ("red", 0.50, 0.80), ("circle.", 1.00, 1.60)]


def test_normalise_word_drops_case_spaces_and_punctuation():
    assert normalise_word(" Hello,") == "hello"
    assert normalise_word("don't") == "dont"
    assert normalise_word("Café!") == "café"
    assert normalise_word("42%") == "42"
    assert normalise_word("...") == ""


def test_a_perfect_prediction():
    report = compare_word_timings(TRUTH, TRUTH)
    assert report.centre_hit_rate == 1.0 and report.mean_abs_onset_error == 0.0
    assert report.mismatches == () and report.words_agree and report.n_paired == 3


def test_measures_by_hand():
    predicted = [(" the", 0.00, 0.25), (" Red", 0.70, 0.90), (" circle", 0.95, 1.20)]
    report = compare_word_timings(TRUTH, predicted)
    # centres 0.20, 0.65, 1.30: inside [0, 0.25] yes, [0.7, 0.9] no, [0.95, 1.2] no
    assert [w.centre_inside for w in report.words] == [True, False, False]
    assert report.centre_hit_rate == pytest.approx(1 / 3)
    assert [w.onset_error for w in report.words] == pytest.approx([-0.10, 0.20, -0.05])
    assert report.mean_abs_onset_error == pytest.approx((0.10 + 0.20 + 0.05) / 3)
    assert report.mismatches == ()  # case, spaces and the full stop do not count
    assert report.n_hits == 1


def test_span_ends_count_as_inside_and_tolerance_widens_them():
    truth = [("a", 1.0, 2.0)]  # centre 1.5
    assert compare_word_timings(truth, [("a", 1.5, 1.9)]).centre_hit_rate == 1.0
    assert compare_word_timings(truth, [("a", 1.6, 1.9)]).centre_hit_rate == 0.0
    assert compare_word_timings(truth, [("a", 1.6, 1.9)], tolerance=0.1).centre_hit_rate == 1.0


def test_mismatched_words_are_reported_not_dropped():
    predicted = [("the", 0.1, 0.3), ("bed", 0.5, 0.8), ("circle", 1.0, 1.6)]
    report = compare_word_timings(TRUTH, predicted)
    assert report.mismatches == (1,) and not report.words_agree
    assert report.words[1].true_word == "red" and report.words[1].predicted_word == "bed"
    assert not report.words[1].same_word
    assert report.n_paired == 3 and report.centre_hit_rate == 1.0  # measured by position all the same
    assert "1 word(s) differ" in report.summary()


def test_lists_of_different_lengths_pair_the_common_prefix():
    report = compare_word_timings(TRUTH, TRUTH[:2])
    assert report.n_paired == 2 and report.unpaired_true == (("circle.", 1.0, 1.6),)
    assert report.unpaired_predicted == () and not report.words_agree
    extra = compare_word_timings(TRUTH[:1], TRUTH)
    assert [w for w, _, _ in extra.unpaired_predicted] == ["red", "circle."]


def test_nothing_to_compare_gives_nan_not_an_error():
    report = compare_word_timings([], [])
    assert math.isnan(report.centre_hit_rate) and math.isnan(report.mean_abs_onset_error)
    assert report.table() == [] and report.summary() == "No words to compare."


def test_table_has_one_row_per_word_with_rounded_times():
    rows = compare_word_timings(TRUTH, [("the", 0.12345, 0.3), ("red", 0.5, 0.8), ("circle", 1.0, 1.6)]).table()
    assert [r["word"] for r in rows] == ["The", "red", "circle."]
    assert rows[0]["predicted start"] == 0.123 and rows[0]["onset error (s)"] == 0.023
    assert set(rows[0]) >= {"word", "heard", "same word", "centre inside", "onset error (s)"}


def test_summary_counts_hits():
    predicted = [("the", 0.0, 0.25), ("red", 0.7, 0.9), ("circle", 0.95, 1.2)]
    assert compare_word_timings(TRUTH, predicted).summary().startswith("1/3 word centres")


@pytest.mark.parametrize("bad", [
    [("a", 1.0)], [("a", 2.0, 1.0)], [("a", float("nan"), 1.0)], [("a", "x", 1.0)], ["abc"],
])
def test_malformed_words_raise_value_error(bad):
    with pytest.raises(ValueError):
        compare_word_timings(bad, TRUTH[:1])
    with pytest.raises(ValueError):
        compare_word_timings(TRUTH[:1], bad)


def test_negative_tolerance_is_refused():
    with pytest.raises(ValueError):
        compare_word_timings(TRUTH, TRUTH, tolerance=-0.1)
