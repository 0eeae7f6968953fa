"""The public blueprint object, in its own module so view modules import it without an import cycle."""

from flask import Blueprint

bp = Blueprint("public", __name__, template_folder="../templates")
