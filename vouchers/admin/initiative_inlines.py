"""The inlines of a call's page: its published documents and its outcome messages' texts."""

from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from unfold.admin import StackedInline
from unfold.widgets import UnfoldAdminFileFieldWidget

from core.admin.toolkit import LabelledTabularInline
from core.uploads import UploadError, checked_upload
from vouchers.admin.amendments import InitiativeInlineMixin, PublishedDocumentsInlineMixin
from vouchers.models import InitiativeDocument, OutcomeTemplate


class LinkedFile:
    """A stored file as the file widget shows it, linked to the view that serves it."""

    def __init__(self, file, url: str):
        self.file, self.url = file, url

    def __str__(self) -> str:
        return str(self.file)


class ServedFileWidget(UnfoldAdminFileFieldWidget):
    """The file widget, whose link goes to a view that serves the file (there is no /media/)."""

    served_url = ""

    def format_value(self, value):
        value = super().format_value(value)
        if value and self.served_url and self.is_initial(value):
            return LinkedFile(value, self.served_url)
        return value


class InitiativeDocumentForm(forms.ModelForm):
    class Meta:
        model = InitiativeDocument
        fields = ["title", "file"]
        widgets = {"file": ServedFileWidget}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["file"].widget.served_url = reverse(
                "webapp:initiative-document",
                args=[self.instance.initiative_id, self.instance.pk],
            )

    def clean_file(self):
        uploaded = self.cleaned_data.get("file")
        if uploaded and hasattr(uploaded, "content_type"):  # a new upload, not the stored file
            try:
                content_type = checked_upload(uploaded)
            except UploadError as exc:
                raise forms.ValidationError(exc.detail) from exc
            if content_type != "application/pdf":
                raise forms.ValidationError(_("Il documento del bando è un PDF."))
        return uploaded


# --- inlines of the call -----------------------------------------------------------------


class InitiativeDocumentInline(PublishedDocumentsInlineMixin, LabelledTabularInline):
    model = InitiativeDocument
    form = InitiativeDocumentForm
    extra = 0
    fields = ["title", "file", "uploaded_at"]
    readonly_fields = ["uploaded_at"]
    verbose_name_plural = _("documenti del bando (PDF)")


class OutcomeTemplateInline(InitiativeInlineMixin, StackedInline):
    model = OutcomeTemplate
    extra = 0
    max_num = len(OutcomeTemplate.Outcome.choices)
    fields = ["outcome", "subject", "body"]
    verbose_name_plural = _("testi delle comunicazioni (se mancano si usa il testo standard)")
