"""Liver scores from a lab panel: MELD (UNOS), MELD-Na (UNOS 2016) and Child–Pugh.

Inputs are in the units the study's labs report (SI: µmol/L, g/L); the formulas are
published in conventional units, so values are converted first:
bilirubin µmol/L ÷ 17.1 = mg/dL, creatinine µmol/L ÷ 88.4 = mg/dL, albumin g/L ÷ 10 = g/dL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

BILIRUBIN_UMOL_PER_MG_DL = 17.1
CREATININE_UMOL_PER_MG_DL = 88.4
MELD_MIN, MELD_MAX = 6, 40
CREATININE_CAP_MG_DL = 4.0
SODIUM_LOW, SODIUM_HIGH = 125.0, 137.0


def bilirubin_mg_dl(umol_l: float) -> float:
    return umol_l / BILIRUBIN_UMOL_PER_MG_DL


def creatinine_mg_dl(umol_l: float) -> float:
    return umol_l / CREATININE_UMOL_PER_MG_DL


def albumin_g_dl(g_l: float) -> float:
    return g_l / 10.0


def _meld_i(bilirubin: float, creatinine: float, inr: float, on_dialysis: bool) -> float:
    """UNOS MELD(i), in conventional units, rounded to the tenth and multiplied by 10."""
    bilirubin, inr = max(bilirubin, 1.0), max(inr, 1.0)
    # Dialysis at least twice in the past week (or CVVHD) counts as creatinine 4.0.
    creatinine = CREATININE_CAP_MG_DL if on_dialysis else min(max(creatinine, 1.0), CREATININE_CAP_MG_DL)
    raw = 0.957 * math.log(creatinine) + 0.378 * math.log(bilirubin) + 1.120 * math.log(inr) + 0.643
    return round(raw, 1) * 10


def _bound(score: float) -> int:
    return int(min(max(round(score), MELD_MIN), MELD_MAX))


def meld(bilirubin: float, creatinine: float, inr: float, *, on_dialysis: bool = False) -> int:
    """MELD (UNOS) from bilirubin and creatinine in mg/dL; 6–40."""
    return _bound(_meld_i(bilirubin, creatinine, inr, on_dialysis))


def meld_na(bilirubin: float, creatinine: float, inr: float, sodium: float, *, on_dialysis: bool = False) -> int:
    """MELD-Na (UNOS 2016): the sodium term applies only when MELD(i) > 11; sodium bounded 125–137."""
    meld_i = _meld_i(bilirubin, creatinine, inr, on_dialysis)
    if meld_i <= 11:
        return _bound(meld_i)
    na = min(max(sodium, SODIUM_LOW), SODIUM_HIGH)
    return _bound(meld_i + 1.32 * (137 - na) - 0.033 * meld_i * (137 - na))


@dataclass(frozen=True)
class ChildPugh:
    score: int
    grade: str  # A (5–6), B (7–9), C (10–15)


def child_pugh(bilirubin: float, albumin: float, inr: float, ascites: int, encephalopathy: int) -> ChildPugh:
    """Child–Pugh from bilirubin (mg/dL), albumin (g/dL), INR and the two clinical grades.

    Grades are the points themselves: 1 none, 2 mild/moderate (encephalopathy grade 1–2),
    3 severe (encephalopathy grade 3–4).
    """
    if ascites not in (1, 2, 3) or encephalopathy not in (1, 2, 3):
        raise ValueError("ascites and encephalopathy grades must be 1, 2 or 3")
    points = (
        (1 if bilirubin < 2 else 2 if bilirubin <= 3 else 3)
        + (1 if albumin > 3.5 else 2 if albumin >= 2.8 else 3)
        + (1 if inr < 1.7 else 2 if inr <= 2.3 else 3)
        + ascites
        + encephalopathy
    )
    return ChildPugh(points, "A" if points <= 6 else "B" if points <= 9 else "C")


@dataclass(frozen=True)
class PanelScores:
    meld: int | None = None
    meld_na: int | None = None
    child_pugh: ChildPugh | None = None


def scores_from_si(
    values: dict[str, float], *, ascites: int | None, encephalopathy: int | None, on_dialysis: bool = False
) -> PanelScores:
    """Whatever scores the panel allows, from catalogue codes in SI units (TBIL, CREA, ALB, INR, NA)."""
    tbil, crea, inr = values.get("TBIL"), values.get("CREA"), values.get("INR")
    alb, na = values.get("ALB"), values.get("NA")
    m = mna = None
    if tbil is not None and crea is not None and inr is not None:
        args = (bilirubin_mg_dl(tbil), creatinine_mg_dl(crea), inr)
        m = meld(*args, on_dialysis=on_dialysis)
        if na is not None:
            mna = meld_na(*args, na, on_dialysis=on_dialysis)
    cp = None
    if None not in (tbil, alb, inr, ascites, encephalopathy):
        cp = child_pugh(bilirubin_mg_dl(tbil), albumin_g_dl(alb), inr, ascites, encephalopathy)  # type: ignore[arg-type]
    return PanelScores(m, mna, cp)
