"""The archive of a call in the admin: its ZIP to download, and its retention term."""

import tempfile

from django.contrib import messages
from django.http import FileResponse, HttpResponseRedirect
from django.utils import formats
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action, display

from core.admin import ConfirmForm, action_form_page, bound_if_confirmed, change_url
from vouchers.admin.phases import InitiativeActionsBase
from vouchers.archive import ARCHIVABLE_STATUSES, ArchiveError, initiative_archive_zip
from vouchers.models import Initiative

ARCHIVE_ACTION = "archive_download_detail"
RETENTION_FIELDS = ["retention_years", "retain_until_detail", "personal_data_erased_at"]


class InitiativeArchiveMixin(InitiativeActionsBase):
    """Download a closed call's archive; show and edit its retention term."""

    def has_archive_download_permission(self, request, obj=None):
        # The archive holds every applicant's personal data.
        user = request.user
        return user.has_perm("vouchers.change_initiative") and user.has_perm(
            "vouchers.view_application"
        )

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

        class RetentionForm(form):
            def clean_retention_years(self):
                value = self.cleaned_data.get("retention_years")
                if value is None:
                    return self.instance.retention_years or default
                return value

        # Left empty, the term stays what it is (ten years for a new call).
        RetentionForm.base_fields["retention_years"].required = False
        return RetentionForm

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, *(f for f in RETENTION_FIELDS[1:] if f not in readonly)]

    @display(description=_("dati personali conservati fino al"))
    def retain_until_detail(self, obj):
        if obj is None or obj.pk is None or obj.valid_until is None:
            return "—"
        return formats.date_format(obj.retain_until, "SHORT_DATE_FORMAT")

    @action(
        description=_("Scarica l'archivio (ZIP)"),
        url_path="archivio-zip",
        icon="folder_zip",
        permissions=["archive_download"],
    )
    def archive_download_detail(self, request, object_id):
        initiative = self._initiative(request, object_id)
        if not bound_if_confirmed(ConfirmForm, request).is_valid():
            return action_form_page(
                request,
                self,
                title=_("Scarica l'archivio del bando"),
                description=_(
                    "Un file ZIP con impostazioni, domande, decisioni, graduatoria, buoni, "
                    "utilizzi, liquidazioni, contabilità, distinte di pagamento, lettere, "
                    "documenti e allegati, con il manifesto SHA-256 per verificarlo. Contiene "
                    "dati personali: conservalo in un luogo protetto."
                ),
                form=ConfirmForm(),
                summary=[
                    (_("Stato attuale"), initiative.get_status_display()),
                    (_("Domande"), initiative.applications.count()),
                ],
                submit_label=_("Scarica"),
                obj=initiative,
            )
        archive = tempfile.TemporaryFile()  # gone when the response closes it
        try:
            initiative_archive_zip(initiative=initiative, out=archive, by=request.user)
        except ArchiveError as exc:
            archive.close()
            self.message_user(request, exc.detail, messages.ERROR)
            return HttpResponseRedirect(change_url(initiative))
        except BaseException:
            archive.close()
            raise
        archive.seek(0)
        response = FileResponse(
            archive,
            as_attachment=True,
            filename=f"bando-{initiative.pk}-archivio.zip",
            content_type="application/zip",
        )
        response["Cache-Control"] = "no-store"
        return response
