"""Endpoints the SMS provider calls: CSRF-exempt, every request signature-checked."""

# Importing the views registers their routes on bp.
from . import views  # noqa: F401
from .blueprint import bp

__all__ = ["bp"]
