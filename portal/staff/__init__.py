"""The study team's console, mounted at /staff.

Every view loads records through ``portal.scoping`` (site scoping in the query); an object
outside the viewer's sites raises ``NotInScope``, answered here with a 404.
"""

from flask import Blueprint

bp = Blueprint("staff", __name__, template_folder="../templates", cli_group=None)

from . import (  # noqa: E402,F401
    admin_views,
    auth_views,
    commands,
    common,
    consent_views,
    enquiry_views,
    message_views,
    news_views,
    participant_views,
    results_views,
    team_messages,
    visit_views,
)
