"""The reports' pages in the admin: rendicontazione, the funder's report, a call's archive.

The call's admin and the funding sources' admin are registered again here, each as its
``vouchers`` class with the reports' buttons and pages added, so that ``vouchers`` never
imports the reports.
"""

from reports.admin import archive, funding, rendicontazione  # noqa: F401
