"""Extract, update and fill the catalogues in one locked step (several people edit them at once).

Usage: .venv/bin/python tools/i18n_merge.py [translations.json ...]
Each JSON maps an English msgid to its Chinese text, or to {"zh": ..., "en": ...};
for a plural msgid use {"zh": "...", "en": ["singular", "plural"]}; for a msgid with a context
(pgettext) the key is "context\u0004msgid", as in compiled catalogues.
English entries without an explicit text get the msgid itself.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
CATALOGUES = {loc: ROOT / "translations" / loc / "LC_MESSAGES" / "messages.po" for loc in ("zh_Hans_CN", "en")}


def run(*args: str) -> None:
    subprocess.run([str(BIN / args[0]), *args[1:]], cwd=ROOT, check=True, capture_output=True)  # noqa: S603 - our own venv tools


def main(paths: list[str]) -> None:
    wanted: dict[str, object] = {}
    for path in paths:
        wanted.update(json.loads(Path(path).read_text(encoding="utf-8")))
    with open(Path(tempfile.gettempdir()) / "portal-i18n.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        run("pybabel", "extract", "--no-location", "--sort-by-file", "--omit-header", "-F", "babel.cfg",
            "-k", "lazy_gettext", "-k", "_l", "-o", "translations/messages.pot", ".")
        run("pybabel", "update", "--no-fuzzy-matching", "--ignore-obsolete", "-i", "translations/messages.pot",
            "-d", "translations")
        missing = {loc: fill(path, loc, wanted) for loc, path in CATALOGUES.items()}
        run("pybabel", "compile", "-d", "translations")
    for loc, ids in missing.items():
        for msgid in ids:
            print(f"untranslated [{loc}]: {msgid}")


def fill(path: Path, locale: str, wanted: dict[str, object]) -> list[str]:
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    missing: list[str] = []
    for message in catalog:
        if not message.id:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        message.flags.discard("fuzzy")
        entry = wanted.get(f"{message.context}\u0004{key}" if message.context else key)
        text = entry.get("zh" if locale.startswith("zh") else "en") if isinstance(entry, dict) else (
            entry if locale.startswith("zh") else None)
        if text is None and locale == "en":
            text = list(message.id) if isinstance(message.id, tuple) else message.id
        if text is not None:
            if isinstance(message.id, tuple):
                message.string = tuple(text) if isinstance(text, list) else tuple([text] * len(message.id))
            else:
                message.string = text
        done = all(message.string) if isinstance(message.string, tuple) else bool(message.string)
        if not done:
            missing.append(key)
    with path.open("wb") as fh:
        write_po(fh, catalog, width=0, omit_header=False)
    return missing


if __name__ == "__main__":
    main(sys.argv[1:])
