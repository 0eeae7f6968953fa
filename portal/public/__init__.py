"""Pages for anyone, signed out: the study in plain words, and volunteer enquiries."""

from .blueprint import bp

__all__ = ["bp"]

# Importing the view module registers its routes.
from . import views  # noqa: F401
