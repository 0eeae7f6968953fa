"""Endpoints the SMS provider calls: CSRF-exempt, every request signature-checked."""

from flask import Blueprint

bp = Blueprint("webhooks", __name__)

from . import views  # noqa: E402,F401
