"""Developer laptop and `make run`: SQLite and an embedded broker unless told otherwise."""

from config.settings.base import *  # noqa: F403
from config.settings.base import env

# Off unless asked for: a debug page shows local variables, and so secrets, to whoever
# reaches the server.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["*"])

# Nothing is collected on a laptop: WhiteNoise serves assets from the apps (finders).
STATIC_ROOT = None
