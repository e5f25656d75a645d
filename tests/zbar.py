"""The QR reader of the tests that read codes back, failing clearly without libzbar0.

pyzbar loads the system's zbar library when it is imported: imported at the first read, so
that a machine without the library still collects and runs every other test.
"""

import pytest

INSTALL = (
    "Reading QR codes needs the system's zbar library: install it with "
    "`sudo apt-get install libzbar0` (or run `make venv` as root)."
)


def require():
    """pyzbar's module, or a failed test saying what to install."""
    try:
        from pyzbar import pyzbar
    except (ImportError, OSError) as exc:
        pytest.fail(f"{INSTALL} ({exc})", pytrace=False)
    return pyzbar


def decode(*args, **kwargs):
    """pyzbar's ``decode``, or a failed test saying what to install."""
    return require().decode(*args, **kwargs)
