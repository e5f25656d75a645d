"""The installable app for beneficiaries and cashiers, and the public pages.

django-pwa is also installed as a package named ``pwa``; this package extends its search
path so that ``pwa.urls``, ``pwa.views`` and the ``pwa`` template tags of django-pwa stay
importable next to the project's own modules (``pwa.apps``, ``pwa.public``, ``pwa.routes``).
"""

from pathlib import Path
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

PROJECT_APP_DIR = Path(__file__).resolve().parent


def django_pwa_template_dirs() -> list[Path]:
    """Return django-pwa's template folders (manifest.json, offline.html)."""
    return [
        Path(entry) / "templates"
        for entry in __path__
        if Path(entry).resolve() != PROJECT_APP_DIR and (Path(entry) / "templates").is_dir()
    ]
