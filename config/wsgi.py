import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
django_application = get_wsgi_application()

# The tills' sales are answered in front of Django's stack (merchants/fastlane.py).
from merchants.fastlane import TillFastLane  # noqa: E402 (needs the apps loaded)

application = TillFastLane(django_application)
