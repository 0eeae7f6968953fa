"""Catalogue hygiene (issue 3 §8): nothing untranslated or fuzzy, messages.pot up to date,
and the same named placeholders on both sides of every translation."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
POT = ROOT / "translations" / "messages.pot"
CATALOGUES = sorted(ROOT.glob("translations/*/LC_MESSAGES/messages.po"))
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[sdifeEgGxXor%]|%[sdif]")


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=locale)


def _locale(path: Path) -> str:
    return path.parent.parent.name


def _ids(catalog: Catalog) -> set[object]:
    return {m.id for m in catalog if m.id}


def test_both_catalogues_exist():
    assert {_locale(p) for p in CATALOGUES} == {"zh_Hans_CN", "en"}


@pytest.mark.parametrize("path", CATALOGUES, ids=_locale)
def test_no_untranslated_or_fuzzy_entries(path: Path):
    catalog = _read(path, _locale(path))
    problems = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        elif not all(strings):
            problems.append(f"untranslated: {message.id!r}")
    assert not problems, f"{path.relative_to(ROOT)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", CATALOGUES, ids=_locale)
def test_catalogue_has_every_message_of_the_template(path: Path):
    missing = _ids(_read(POT)) - _ids(_read(path, _locale(path)))
    assert not missing, f"run `make update-messages`: {sorted(map(str, missing))}"


def test_messages_pot_is_not_stale(tmp_path: Path):
    """Re-extract with the options tools/i18n_merge.py and the Makefile use; the ids must match."""
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [str(Path(sys.executable).parent / "pybabel"), "extract", "--no-location", "--sort-by-file", "--omit-header",
         "-F", "babel.cfg", "-k", "lazy_gettext", "-k", "_l", "-o", str(fresh), "."],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    committed, extracted = _ids(_read(POT)), _ids(_read(fresh))
    assert committed == extracted, (
        "translations/messages.pot is stale: run `make extract-messages` (or tools/i18n_merge.py).\n"
        f"new in the code: {sorted(map(str, extracted - committed))}\n"
        f"gone from the code: {sorted(map(str, committed - extracted))}"
    )


def _placeholders(text: str) -> list[str]:
    return sorted(m.group(0) if m.group(1) is None else f"%({m.group(1)})" for m in PLACEHOLDER.finditer(text)
                  if m.group(0) != "%%")  # fmt: skip


@pytest.mark.parametrize("path", CATALOGUES, ids=_locale)
def test_placeholders_match(path: Path):
    problems = []
    for message in _read(path, _locale(path)):
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = {tuple(_placeholders(i)) for i in ids}
        for text in strings:
            if text and tuple(_placeholders(text)) not in wanted and not _plural_count_only(ids, text):
                problems.append(f"{message.id!r} → {text!r}")
    assert not problems, "placeholders differ between msgid and msgstr:\n" + "\n".join(problems)


def _plural_count_only(ids: tuple[str, ...], text: str) -> bool:
    """A singular form may drop the number ("one day"); it must not invent other names."""
    return len(ids) > 1 and set(_placeholders(text)) <= set(_placeholders(ids[-1]))


def test_placeholder_check_catches_a_mismatch():
    assert _placeholders("Visit %(position)s of %(total)s") != _placeholders("第%(position)s次随访，共%(count)s次")
    assert _placeholders("%(a)s and %(b)d") == _placeholders("%(b)d 和 %(a)s")
