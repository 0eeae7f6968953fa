"""MELD, MELD-Na and Child–Pugh against worked examples (arithmetic shown, UNOS rules for bounds)."""

import pytest

from portal.scoring import (
    albumin_g_dl,
    bilirubin_mg_dl,
    child_pugh,
    creatinine_mg_dl,
    meld,
    meld_na,
    scores_from_si,
)


def test_si_conversions():
    assert bilirubin_mg_dl(17.1) == pytest.approx(1.0)
    assert creatinine_mg_dl(88.4) == pytest.approx(1.0)
    assert albumin_g_dl(35) == pytest.approx(3.5)


def test_meld_worked_example():
    # Cr 1.5, bili 3.0, INR 2.0:
    # 0.957·ln1.5 = 0.38803; 0.378·ln3 = 0.41528; 1.120·ln2 = 0.77632; + 0.643 = 2.2226 → 2.2 → 22
    assert meld(3.0, 1.5, 2.0) == 22


def test_meld_na_worked_example():
    # MELD(i) 22 > 11, Na 130: 22 + 1.32·7 − 0.033·22·7 = 22 + 9.24 − 5.082 = 26.158 → 26
    assert meld_na(3.0, 1.5, 2.0, 130) == 26


def test_meld_lower_bounds_values_below_one_count_as_one():
    # all inputs 1.0 → 0.643 → 0.6 → 6; values under 1 give the same
    assert meld(1.0, 1.0, 1.0) == 6
    assert meld(0.3, 0.5, 0.9) == 6


def test_meld_creatinine_capped_at_four_and_dialysis_counts_as_four():
    # Cr 4.0, bili 1, INR 1: 0.957·ln4 = 1.32669 + 0.643 = 1.9697 → 2.0 → 20
    assert meld(1.0, 4.0, 1.0) == 20
    assert meld(1.0, 9.0, 1.0) == 20
    assert meld(1.0, 1.0, 1.0, on_dialysis=True) == 20


def test_meld_upper_bound_is_40():
    assert meld(40.0, 4.0, 8.0) == 40
    assert meld_na(40.0, 4.0, 8.0, 110) == 40


def test_meld_na_sodium_term_only_above_meld_11():
    # Cr 1, bili 2, INR 1.2: 0.378·ln2 = 0.26201; 1.12·ln1.2 = 0.20420; +0.643 = 1.1092 → 1.1 → 11
    assert meld(2.0, 1.0, 1.2) == 11
    assert meld_na(2.0, 1.0, 1.2, 125) == 11


def test_meld_na_sodium_bounded_125_to_137():
    assert meld_na(3.0, 1.5, 2.0, 110) == meld_na(3.0, 1.5, 2.0, 125)
    # 22 + 1.32·12 − 0.033·22·12 = 22 + 15.84 − 8.712 = 29.128 → 29
    assert meld_na(3.0, 1.5, 2.0, 125) == 29
    assert meld_na(3.0, 1.5, 2.0, 145) == meld_na(3.0, 1.5, 2.0, 137) == 22


@pytest.mark.parametrize(
    ("bili", "alb", "inr", "ascites", "enceph", "score", "grade"),
    [
        (1.0, 4.0, 1.0, 1, 1, 5, "A"),  # every criterion at its best
        (2.5, 3.0, 1.8, 1, 1, 8, "B"),  # 2 + 2 + 2 + 1 + 1
        (3.5, 2.5, 2.5, 3, 3, 15, "C"),  # every criterion at its worst
        (1.9, 3.6, 1.6, 2, 1, 6, "A"),  # just under each first cut-off
        (3.0, 2.8, 2.3, 2, 2, 10, "C"),  # on the upper edges of the middle bands: 2+2+2+2+2
    ],
)
def test_child_pugh(bili, alb, inr, ascites, enceph, score, grade):
    result = child_pugh(bili, alb, inr, ascites, enceph)
    assert (result.score, result.grade) == (score, grade)


def test_child_pugh_refuses_unknown_grades():
    with pytest.raises(ValueError):
        child_pugh(1.0, 4.0, 1.0, 0, 1)


def test_scores_from_si_units():
    # 51.3 µmol/L = 3.0 mg/dL bilirubin; 132.6 µmol/L = 1.5 mg/dL creatinine; 30 g/L = 3.0 g/dL albumin
    scores = scores_from_si({"TBIL": 51.3, "CREA": 132.6, "INR": 2.0, "NA": 130, "ALB": 30},
                            ascites=2, encephalopathy=1)
    assert (scores.meld, scores.meld_na) == (22, 26)
    assert scores.child_pugh is not None
    assert (scores.child_pugh.score, scores.child_pugh.grade) == (2 + 2 + 2 + 2 + 1, "B")


def test_scores_need_their_inputs():
    scores = scores_from_si({"TBIL": 20.0, "PTA": 80}, ascites=None, encephalopathy=None)
    assert scores.meld is None and scores.meld_na is None and scores.child_pugh is None
