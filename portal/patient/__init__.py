"""Pages for participants: phone sign-in, visits, calendar, consents, results, settings."""

from .blueprint import bp

__all__ = ["bp"]

# Importing the view modules registers their routes (after bp exists: `from . import bp` still works).
from . import messages, signin_views, views  # noqa: F401
