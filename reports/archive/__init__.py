"""The archive of a closed call: one ZIP with its data, its files and a SHA-256 manifest.

The ZIP holds the call's settings (``bando.json``), one CSV per kind of record
(``domande.csv``, ``buoni.csv``, ``contabilita.csv``…), the pain.001 files of the payment
batches that paid its shops or beneficiaries (``distinte/``), the settlement statements
(``liquidazioni/``), the outcome letters (``lettere/``), the reports (``rendicontazione/``), the
call's published documents (``documenti/``) and the files uploaded with its applications and
claims (``allegati/``): Italian names, the same whatever the language of the contents.
``INDICE.sha256`` lists every other file as ``sha256sum`` does (``sha256sum -c INDICE.sha256``
checks an unzipped copy); ``indice.json`` adds sizes, when the archive was made and by whom.

Everything is streamed: rows are read in chunks and written straight into the compressed
member, files are copied in blocks, so memory stays flat however large the call is. Entries
are written in a fixed order and rows by id, so two archives of the same call differ only in
``indice.json``'s time and author (and the date printed on regenerated letters).

The package: ``writer`` streams the ZIP, ``records`` reads the call's applications, decisions,
vouchers and messages, ``ledger`` its shops' and people's money, ``build`` puts them together
(``initiative_archive_zip``) with the reports (``reports.rendicontazione``, one CSV and one
PDF per dimension), and ``exports`` prepares the archive in the background for staff.
"""
