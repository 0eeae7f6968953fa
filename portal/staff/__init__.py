"""The study team's console, mounted at /staff.

Every view loads records through ``portal.scoping`` (site scoping in the query); an object
outside the viewer's sites raises ``NotInScope``, answered here with a 404.
"""

from .blueprint import bp

__all__ = ["bp"]

# Importing the view modules registers their routes (after bp exists: `from . import bp` still works).
from . import (  # noqa: F401
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
