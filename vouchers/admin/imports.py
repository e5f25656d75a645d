"""Import of a desk's backlog of applications into a call, from a CSV or XLSX file."""

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.decorators import action

from core.admin.toolkit import change_url, changelist_url
from core.forms import SpreadsheetUploadForm
from vouchers.admin.phases import InitiativeActionsBase
from vouchers.admin.scoping import (
    request_scope,
)
from vouchers.models import (
    Application,
)
from vouchers.services.imports import COLUMNS, REQUIRED, RowError, applications_import


class ImportForm(SpreadsheetUploadForm):
    file_help_text = _(
        "Una riga per domanda, con l'intestazione del modello. Se una riga ha un errore "
        "non si importa nessuna domanda: correggi il file e caricalo di nuovo."
    )
    unreadable_message = _("Il file non si legge: usa il modello CSV o XLSX.")


class InitiativeImportMixin(InitiativeActionsBase):
    """The import page of a call, and the template file; mixed into ``InitiativeAdmin``."""

    def has_import_permission(self, request, obj=None):
        scope = request_scope(request)
        return request.user.has_perm("vouchers.add_application") and bool(
            scope.everything or scope.municipality_ids
        )

    def get_urls(self):
        return [
            path(
                "modello-domande.csv",
                self.admin_site.admin_view(self.import_template_view),
                name=self._import_template_url_name(),
            ),
            *super().get_urls(),
        ]

    def _import_template_url_name(self) -> str:
        return f"{self.model._meta.app_label}_{self.model._meta.model_name}_import_template"

    def import_template_view(self, request):
        if not self.has_import_permission(request):
            raise Http404
        response = HttpResponse(";".join(COLUMNS) + "\r\n", content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="modello-domande.csv"'
        return response

    def _rows_outside_scope(self, request, initiative, rows) -> list[RowError]:
        """Rows for municipalities the user does not work for: the import refuses them."""
        scope = request_scope(request)
        if scope.everything:
            return []
        allowed = set(
            initiative.municipalities.filter(pk__in=scope.municipality_ids).values_list(
                "istat_code", flat=True
            )
        )
        errors = []
        for index, row in enumerate(rows, start=2):
            code = (row.get("comune_istat") or "").zfill(6)
            if row.get("comune_istat") and code not in allowed:
                errors.append(
                    RowError(
                        index,
                        str(_("comune_istat %(code)s non è un comune in cui lavori"))
                        % {"code": row["comune_istat"]},
                    )
                )
        return errors

    @action(
        description=_("Importa domande"),
        url_path="importa-domande",
        icon="upload_file",
        permissions=["import"],
    )
    def import_applications_detail(self, request, object_id):
        initiative = self._initiative(request, object_id)
        form = ImportForm(
            request.POST if request.method == "POST" else None,
            request.FILES if request.method == "POST" else None,
        )
        errors: list[RowError] = []
        if request.method == "POST" and form.is_valid():
            _content, rows = form.read()
            if rows is not None:
                missing = [c for c in REQUIRED if rows and c not in rows[0]]
                if not rows:
                    form.add_error("file", _("Il file non ha righe da importare."))
                elif missing:
                    form.add_error(
                        "file",
                        _("Mancano le colonne: %(columns)s.") % {"columns": ", ".join(missing)},
                    )
                else:
                    errors = self._rows_outside_scope(request, initiative, rows)
                    if not errors:
                        result = applications_import(
                            initiative=initiative, rows=rows, entered_by=request.user
                        )
                        errors = result.errors
                        if not errors:
                            self._report_import(request, result.imported)
                            return HttpResponseRedirect(
                                changelist_url(Application, initiative__id__exact=initiative.pk)
                            )
                    self.message_user(
                        request,
                        ngettext(
                            "%(count)d riga con errori: nessuna domanda importata.",
                            "%(count)d righe con errori: nessuna domanda importata.",
                            len(errors),
                        )
                        % {"count": len(errors)},
                        messages.ERROR,
                    )
        template_url = reverse(f"admin:{self._import_template_url_name()}")
        return TemplateResponse(
            request,
            "admin/buonocomune/import_applications.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": initiative,
                "title": _("Importa domande: %(initiative)s") % {"initiative": initiative},
                "form": form,
                "media": self.media + form.media,
                "errors_table": {
                    "headers": [_("Riga"), _("Errore")],
                    "rows": [[error.row, error.message] for error in errors],
                }
                if errors
                else None,
                "columns": COLUMNS,
                "required": REQUIRED,
                "template_url": template_url,
                "cancel_url": change_url(initiative),
            },
        )

    def _report_import(self, request, imported) -> None:
        if not imported:
            self.message_user(request, _("Il file non conteneva domande."), messages.INFO)
            return
        self.message_user(
            request,
            ngettext(
                "Importata %(count)d domanda: protocollo %(first)s.",
                "Importate %(count)d domande: protocolli da %(first)s a %(last)s.",
                len(imported),
            )
            % {
                "count": len(imported),
                "first": imported[0].protocol_number,
                "last": imported[-1].protocol_number,
            },
            messages.SUCCESS,
        )
