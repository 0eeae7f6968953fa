"""Password hashing (argon2id) and the password rules for study-team accounts."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 256
_hasher = PasswordHasher()
# Patterns that appear at the top of every breached-password list.
_BREACHED_PATTERNS = (
    r"^(.)\1+$",
    r"^(?:0123456789|1234567890|9876543210)+",
    r"^(?:qwerty|asdf|zxcv|password|passw0rd|letmein|welcome|admin|iloveyou|abc123|111111|123123)",
)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def password_problems(password: str, email: str = "") -> list[str]:
    """Machine codes for what is wrong with a new password (views translate them)."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append("too_short")
    if len(password) > MAX_LENGTH:
        problems.append("too_long")
    lowered = password.lower()
    if any(re.search(p, lowered) for p in _BREACHED_PATTERNS):
        problems.append("common")
    local_part = email.split("@", 1)[0].lower()
    if len(local_part) >= 4 and local_part in lowered:
        problems.append("contains_email")
    return problems
