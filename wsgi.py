import sys

from portal import create_app
from portal.config import ConfigError

try:
    app = create_app()
except ConfigError as error:  # one line naming the variable, not a traceback
    sys.exit(f"configuration error: {error}")
