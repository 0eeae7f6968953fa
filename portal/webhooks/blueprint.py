"""The webhooks blueprint object, in its own module so views import it without a cycle."""

from flask import Blueprint

bp = Blueprint("webhooks", __name__)
