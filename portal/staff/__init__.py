"""The study team's console."""

from flask import Blueprint

bp = Blueprint("staff", __name__, template_folder="../templates")

from . import views  # noqa: E402,F401
