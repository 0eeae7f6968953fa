"""Pages for participants: phone sign-in, visits, calendar, consents, results, settings."""

from flask import Blueprint

bp = Blueprint("patient", __name__, template_folder="../templates")

from . import messages, views  # noqa: E402,F401
