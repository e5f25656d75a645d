"""Production settings: base with ``BUONOCOMUNE_ENV=production`` forced on."""

import os

os.environ["BUONOCOMUNE_ENV"] = "production"

from config.settings.base import *  # noqa: E402, F403
