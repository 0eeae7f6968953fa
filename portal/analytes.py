"""The lab tests the study reports: plain-language names (GLOSSARY.md), units, usual ranges.

Names are marked with lazy_gettext-style markers via ``N_`` so the catalogue carries them;
render them with ``translations(locale).gettext(analyte.plain_name)``.
"""

from __future__ import annotations

from dataclasses import dataclass


def N_(text: str) -> str:
    """Marks a string for extraction without translating it here."""
    return text


@dataclass(frozen=True)
class Analyte:
    code: str
    staff_label: str
    plain_name: str  # English msgid; the catalogue holds the Chinese
    unit: str
    ref_low: float | None
    ref_high: float | None
    # Values outside these bounds are refused at entry as almost certainly a typing or unit error.
    plausible_low: float
    plausible_high: float
    decimals: int = 1


ANALYTES: tuple[Analyte, ...] = (
    Analyte("ALT", "ALT", N_("ALT, a liver enzyme"), "U/L", 7, 40, 0, 10000, 0),
    Analyte("AST", "AST", N_("AST, a liver enzyme"), "U/L", 13, 35, 0, 10000, 0),
    Analyte("TBIL", "TBIL", N_("Bilirubin (yellow pigment the liver clears)"), "µmol/L", 0, 21, 0, 1500, 1),
    Analyte("ALB", "ALB", N_("Albumin (protein made by the liver)"), "g/L", 40, 55, 5, 80, 1),
    Analyte("PTA", "PTA", N_("Clotting activity (PTA)"), "%", 70, 130, 5, 200, 0),
    Analyte("INR", "INR", N_("Blood clotting time (INR)"), "", 0.8, 1.2, 0.5, 15, 2),
    Analyte("CREA", "Cr", N_("Kidney function (creatinine)"), "µmol/L", 41, 111, 5, 2500, 0),
    Analyte("NA", "Na", N_("Sodium (salt in the blood)"), "mmol/L", 137, 147, 90, 200, 0),
    Analyte("PLT", "PLT", N_("Platelets (cells that help blood clot)"), "×10⁹/L", 125, 350, 1, 2000, 0),
    Analyte("CHE", "CHE", N_("Cholinesterase (liver function)"), "U/L", 5000, 12000, 100, 30000, 0),
    Analyte("AFP", "AFP", N_("AFP (a liver cancer screening test)"), "ng/mL", 0, 7, 0, 100000, 1),
)
BY_CODE: dict[str, Analyte] = {a.code: a for a in ANALYTES}

# Scores shown to participants with a one-line meaning (GLOSSARY.md).
SCORE_EXPLANATIONS = {
    "MELD": N_("MELD score: how well the liver is working; lower is better"),
    "CHILD_PUGH": N_("Child–Pugh class A/B/C: A is the mildest"),
}
