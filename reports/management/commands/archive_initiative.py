import hashlib
import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from core.errors import DomainError
from reports.archive.build import initiative_archive_zip
from vouchers.models import Initiative


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


class Command(BaseCommand):
    help = _(
        "Scrive l'archivio di un bando chiuso: un file ZIP con dati, file e manifesto SHA-256. "
        "Il file si scrive per intero o per niente; si può rilanciare."
    )

    def add_arguments(self, parser):
        parser.add_argument("initiative_id", type=int, help=_("Numero (id) del bando."))
        parser.add_argument("--out", required=True, help=_("Percorso del file ZIP da scrivere."))
        parser.add_argument(
            "--force",
            action="store_true",
            help=_("Sostituisce il file se esiste già."),
        )

    def handle(self, *args, **options):
        initiative = Initiative.objects.filter(pk=options["initiative_id"]).first()
        if initiative is None:
            raise CommandError(_("Bando n. %(id)s non trovato.") % {"id": options["initiative_id"]})
        out = Path(options["out"]).expanduser().absolute()
        if out.is_dir():
            raise CommandError(_("%(path)s è una cartella: indica un file.") % {"path": out})
        if out.exists() and not options["force"]:
            raise CommandError(
                _("%(path)s esiste già: usa --force per sostituirlo.") % {"path": out}
            )
        if not out.parent.is_dir():
            raise CommandError(_("La cartella %(path)s non esiste.") % {"path": out.parent})
        # Written next to the target and renamed at the end: nobody ever sees half a ZIP.
        descriptor, temporary = tempfile.mkstemp(
            dir=out.parent, prefix=f".{out.name}.", suffix=".part"
        )
        temporary = Path(temporary)
        try:
            with os.fdopen(descriptor, "wb") as stream:
                result = initiative_archive_zip(initiative=initiative, out=stream)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, out)
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        finally:
            temporary.unlink(missing_ok=True)
        for path in result.missing:
            self.stderr.write(_("File non trovato, non archiviato: %(path)s") % {"path": path})
        self.stdout.write(
            _("Archivio del bando «%(title)s»: %(path)s (%(count)s file)")
            % {"title": initiative.title, "path": out, "count": len(result.files)}
        )
        self.stdout.write(f"SHA-256 {file_sha256(out)}  {out.name}")
