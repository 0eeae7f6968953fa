"""Pages for anyone, signed out: the study in plain words, and volunteer enquiries."""

from flask import Blueprint

bp = Blueprint("public", __name__, template_folder="../templates")

from . import views  # noqa: E402,F401
