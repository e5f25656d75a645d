"""The archive of a call in the admin: its ZIP, prepared in the background, and its retention.

The call's page gets its archive button and its «Archivio e conservazione» tab here: this
app registers the call's admin again, as the one ``vouchers`` and ``merchants`` registered
with the archive mixed in, so that ``vouchers`` never imports the reports.
"""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import ChoicesDropdownFilter
from unfold.decorators import action, display
from unfold.enums import ActionVariant

from core.admin.toolkit import (
    ConfirmForm,
    LedgerReadOnlyMixin,
    action_form_page,
    bound_if_confirmed,
    change_url,
    is_confirmed,
)
from core.errors import DomainError
from reports.archive.exports import (
    archive_export_discard,
    archive_export_download,
    archive_export_request,
)
from reports.archive.writer import ARCHIVABLE_STATUSES
from vouchers.admin.phases import InitiativeActionsBase
from vouchers.admin.scoping import (
    ScopedAdminMixin,
    ScopedRelatedDropdownFilter,
    visible_initiatives,
)
from vouchers.models import ArchiveExport, Initiative
from vouchers.services.archive_exports import ACTIVE_STATUSES

ARCHIVE_ACTION = "archive_prepare_detail"
RETENTION_FIELDS = [
    "retention_years",
    "retain_until_detail",
    "personal_data_erased_at",
    "archive_exports_detail",
]
EXPORT_STATUS_VARIANTS = {
    ArchiveExport.Status.QUEUED: "info",
    ArchiveExport.Status.RUNNING: "warning",
    ArchiveExport.Status.DONE: "success",
    ArchiveExport.Status.FAILED: "danger",
    ArchiveExport.Status.EXPIRED: "",
}
RECENT_EXPORTS = 5
REFRESH_SECONDS = 10  # a page of an archive being prepared reloads itself


def may_download_archives(user) -> bool:
    """The archive holds every applicant's personal data: call managers who see them."""
    return user.has_perm("vouchers.change_initiative") and user.has_perm(
        "vouchers.view_application"
    )


def download_url(export: ArchiveExport) -> str:
    return reverse("admin:vouchers_archiveexport_download_detail", args=[export.pk])


def export_summary(export: ArchiveExport) -> str:
    """One line for staff: state, when, size, and the link to download when it is ready."""
    when = formats.date_format(timezone.localtime(export.created_at), "SHORT_DATETIME_FORMAT")
    text = _("%(status)s · richiesto il %(when)s") % {
        "status": export.get_status_display(),
        "when": when,
    }
    if export.status == ArchiveExport.Status.DONE:
        until = formats.date_format(timezone.localtime(export.expires_at), "SHORT_DATETIME_FORMAT")
        return format_html(
            '<a href="{}" class="text-link">{}</a> · {} · {}',
            download_url(export),
            _("Scarica (%(size)s)") % {"size": filesizeformat(export.size or 0)},
            text,
            _("disponibile fino al %(until)s") % {"until": until},
        )
    if export.status == ArchiveExport.Status.FAILED and export.error:
        return format_html(
            '<a href="{}" class="text-link">{}</a> · {}', change_url(export), text, export.error
        )
    return format_html('<a href="{}" class="text-link">{}</a>', change_url(export), text)


class InitiativeArchiveMixin(InitiativeActionsBase):
    """Download a closed call's archive; show and edit its retention term."""

    def has_archive_download_permission(self, request, obj=None):
        return may_download_archives(request.user)

    def get_actions_detail(self, request, object_id):
        actions = super().get_actions_detail(request, object_id)
        if not object_id:
            return actions
        state = self._detail_state(request, object_id)
        if state is not None and state["status"] in ARCHIVABLE_STATUSES:
            return actions
        prefix = f"{self.model._meta.app_label}_{self.model._meta.model_name}_"
        return [a for a in actions if a.action_name.removeprefix(prefix) != ARCHIVE_ACTION]

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if any("retention_years" in (options.get("fields") or []) for _n, options in fieldsets):
            return fieldsets
        return [
            *fieldsets,
            (_("Archivio e conservazione"), {"classes": ["tab"], "fields": RETENTION_FIELDS}),
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "retention_years" not in form.base_fields:
            return form
        default = Initiative._meta.get_field("retention_years").default

        def clean_retention_years(form_self):
            value = form_self.cleaned_data.get("retention_years")
            if value is None:
                return form_self.instance.retention_years or default
            return value

        # The form class is made for this request: changed in place, so that what the other
        # mixins set on its fields stays. Left empty, the term stays what it is (ten years for
        # a new call).
        form.clean_retention_years = clean_retention_years
        form.base_fields["retention_years"].required = False
        return form

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, *(f for f in RETENTION_FIELDS[1:] if f not in readonly)]

    @display(description=_("dati personali conservati fino al"))
    def retain_until_detail(self, obj):
        if obj is None or obj.pk is None or obj.valid_until is None:
            return "—"
        return formats.date_format(obj.retain_until, "SHORT_DATE_FORMAT")

    @display(description=_("archivi ZIP preparati"))
    def archive_exports_detail(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        exports = list(obj.archive_exports.order_by("-created_at", "-pk")[:RECENT_EXPORTS])
        if not exports:
            return _("Nessuno: «Prepara l'archivio (ZIP)» ne prepara uno.")
        return format_html(
            '<ul class="flex flex-col gap-1">{}</ul>',
            format_html_join("", "<li>{}</li>", ((export_summary(e),) for e in exports)),
        )

    @action(
        description=_("Prepara l'archivio (ZIP)"),
        url_path="archivio-zip",
        icon="folder_zip",
        permissions=["archive_download"],
    )
    def archive_prepare_detail(self, request, object_id):
        initiative = self._initiative(request, object_id)
        if not bound_if_confirmed(ConfirmForm, request).is_valid():
            return action_form_page(
                request,
                self,
                title=_("Prepara l'archivio del bando"),
                description=_(
                    "Un file ZIP con impostazioni, domande, decisioni, graduatoria, buoni, "
                    "utilizzi, liquidazioni, contabilità, distinte di pagamento, lettere, "
                    "documenti e allegati, con il manifesto SHA-256 per verificarlo. Si "
                    "prepara in secondo piano: per un bando grande servono alcuni minuti. Quando "
                    "è pronto lo scarichi da «Archivi preparati» o dalla scheda «Archivio e "
                    "conservazione» del bando; resta disponibile %(days)d giorni, poi il file "
                    "è eliminato. Contiene dati personali: conservalo in un luogo protetto."
                )
                % {"days": settings.ARCHIVE_EXPORT_KEEP_DAYS},
                form=ConfirmForm(),
                summary=[
                    (_("Stato attuale"), initiative.get_status_display()),
                    (_("Domande"), initiative.applications.count()),
                ],
                submit_label=_("Prepara l'archivio"),
                obj=initiative,
            )
        try:
            export = archive_export_request(initiative=initiative, by=request.user)
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return HttpResponseRedirect(change_url(initiative))
        export.refresh_from_db()
        if export.status == ArchiveExport.Status.DONE:
            self.message_user(request, _("L'archivio è pronto da scaricare."), messages.SUCCESS)
        elif export.status == ArchiveExport.Status.FAILED:
            self.message_user(request, export.error, messages.ERROR)
        else:
            self.message_user(
                request,
                _(
                    "L'archivio è in preparazione: questa pagina mostra quando è pronto. "
                    "Puoi chiuderla e tornare più tardi."
                ),
                messages.INFO,
            )
        return HttpResponseRedirect(change_url(export))


def with_archive_button(actions: list) -> list:
    """The call's buttons with «Prepara l'archivio (ZIP)» right after «Archivia»."""
    at = actions.index("archive_detail") + 1 if "archive_detail" in actions else len(actions)
    return [*actions[:at], ARCHIVE_ACTION, *actions[at:]]


# --- prepared archives ------------------------------------------------------------------


@admin.register(ArchiveExport)
class ArchiveExportAdmin(ScopedAdminMixin, LedgerReadOnlyMixin, ModelAdmin):
    list_display = [
        "initiative",
        "status_display",
        "created_at",
        "requested_by",
        "size_display",
        "expires_at",
        "downloads",
        "download_link",
    ]
    list_filter = [
        ("status", ChoicesDropdownFilter),
        ("initiative", ScopedRelatedDropdownFilter),
    ]
    list_select_related = ["initiative", "requested_by"]
    search_fields = ["initiative__title"]
    fields = [
        "initiative",
        "status",
        "download_link",
        "requested_by",
        "created_at",
        "started_at",
        "finished_at",
        "expires_at",
        "size_display",
        "sha256",
        "files_count",
        "missing_count",
        "error",
        "downloads",
        "last_downloaded_at",
        "last_downloaded_by",
    ]
    readonly_fields = fields
    actions_detail = ["download_detail", "discard_detail"]

    def scoped_queryset(self, request):
        return ArchiveExport.objects.filter(initiative__in=visible_initiatives(request))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.status in ACTIVE_STATUSES:
            context["refresh_seconds"] = REFRESH_SECONDS
        return super().render_change_form(request, context, add, change, form_url, obj)

    def has_module_permission(self, request):
        return super().has_module_permission(request) and may_download_archives(request.user)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and may_download_archives(request.user)

    def has_download_permission(self, request, obj=None):
        return may_download_archives(request.user)

    @display(description=_("stato"), label=EXPORT_STATUS_VARIANTS, ordering="status")
    def status_display(self, obj):
        return obj.status, obj.get_status_display()

    @display(description=_("dimensione"), ordering="size")
    def size_display(self, obj):
        return filesizeformat(obj.size) if obj.size is not None else "—"

    @display(description=_("file"))
    def download_link(self, obj):
        if obj.status != ArchiveExport.Status.DONE:
            return "—"
        return format_html('<a href="{}" class="text-link">{}</a>', download_url(obj), _("Scarica"))

    def _export(self, request, object_id) -> ArchiveExport:
        export = self.get_object(request, object_id)
        if export is None:
            raise Http404
        return export

    @action(
        description=_("Scarica"),
        url_path="scarica",
        icon="download",
        permissions=["download"],
        variant=ActionVariant.PRIMARY,
    )
    def download_detail(self, request, object_id):
        if not self.has_download_permission(request):
            raise PermissionDenied
        export = self._export(request, object_id)
        try:
            with transaction.atomic():  # a download is counted only if the file opens
                export = archive_export_download(export=export, by=request.user)
                stream = export.file.open("rb")
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return HttpResponseRedirect(change_url(export))
        except FileNotFoundError:
            self.message_user(
                request,
                _("Il file dell'archivio non si trova più: preparane uno nuovo dal bando."),
                messages.ERROR,
            )
            return HttpResponseRedirect(change_url(export))
        response = FileResponse(
            stream,
            as_attachment=True,
            filename=export.filename,
            content_type="application/zip",
        )
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    @action(
        description=_("Elimina il file ora"),
        url_path="elimina-file",
        icon="delete",
        permissions=["download"],
    )
    def discard_detail(self, request, object_id):
        export = self._export(request, object_id)
        if not is_confirmed(request):
            return action_form_page(
                request,
                self,
                title=_("Elimina il file dell'archivio"),
                description=_(
                    "Il file ZIP è eliminato subito, prima della scadenza: fallo quando lo hai "
                    "già scaricato e conservato. Se serve ancora, se ne prepara un altro dal "
                    "bando."
                ),
                form=ConfirmForm(),
                summary=[(_("Archivio"), str(export))],
                submit_label=_("Elimina il file"),
                obj=export,
            )
        try:
            archive_export_discard(export=export)
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
        else:
            self.message_user(
                request, _("Il file dell'archivio è stato eliminato."), messages.SUCCESS
            )
        return HttpResponseRedirect(change_url(export))
