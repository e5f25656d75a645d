"""``manage.py seed_demo``: load the demo data once, and print its logins, keys and codes."""

import json
import sys
from contextlib import redirect_stdout
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from core.models import Role
from core.money import format_euro
from merchants.models import Merchant, MerchantStaff
from reports.demo.build import DemoConflict, seed_demo
from reports.demo.data import BENEFICIARY, CASHIER, MERCHANT_OWNER, STATES, SUPERUSER
from reports.demo.identities import demo_app_access
from reports.demo.summary import demo_report
from reports.demo.transfers import demo_transfer_initiatives
from vouchers.codes import group_code

STATE_LABELS = {
    "active": _("attivo"),
    "partly_spent": _("speso in parte"),
    "exhausted": _("esaurito"),
    "expired": _("scaduto"),
    "not_yet_valid": _("non ancora valido"),
    "revoked": _("revocato"),
}

ROLE_LABELS = {
    **{role.value: role.label for role in Role},
    SUPERUSER: _("Superutente"),
    BENEFICIARY: _("Beneficiario"),
    MERCHANT_OWNER: MerchantStaff.Role.OWNER.label,
    CASHIER: MerchantStaff.Role.CASHIER.label,
}


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


class Command(BaseCommand):
    help = _(
        "Carica i dati dimostrativi (enti, bandi, beneficiari, buoni in ogni stato, negozi e "
        "accessi di prova). Una seconda esecuzione non cambia nulla."
    )

    def add_arguments(self, parser):
        output = parser.add_mutually_exclusive_group()
        output.add_argument(
            "--json",
            action="store_true",
            help=_(
                "Stampa in JSON accessi, accesso del beneficiario all'app, negozi con chiave "
                "del dispositivo, titolare e cassiere, e buoni."
            ),
        )
        output.add_argument(
            "--logins",
            action="store_true",
            help=_("Stampa una tabella degli accessi di prova e alcuni codici dei buoni."),
        )

    def handle(self, *args, **options):
        if getattr(settings, "PRODUCTION", False):
            raise CommandError(
                _(
                    "I dati dimostrativi hanno password note a tutti: non si caricano con "
                    "BUONOCOMUNE_ENV=production."
                )
            )
        try:
            # The development mailer prints the demo's e-mails on stdout: they go to stderr,
            # so that stdout holds only what the command prints (``--json`` is JSON alone).
            with redirect_stdout(sys.stderr):
                summary = seed_demo()
        except DemoConflict as exc:
            raise CommandError(
                _(
                    "Impossibile caricare i dati dimostrativi: esistono già utenti, beneficiari "
                    "o negozi con gli stessi identificativi (%(taken)s)."
                )
                % {"taken": exc}
            ) from exc

        if options["json"]:
            self.stdout.write(json.dumps(demo_report(), ensure_ascii=False, indent=2))
        elif options["logins"]:
            self._print_logins(demo_report())
        elif summary is None:
            self.stdout.write(_("Dati dimostrativi già presenti: nessuna modifica."))
        elif summary.extended:
            self.stdout.write(
                self.style.SUCCESS(
                    _("Dati dimostrativi aggiornati: aggiunti %(calls)d bandi pagati con bonifico.")
                    % vars(summary)
                )
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    _(
                        "Dati dimostrativi creati: %(calls)d bandi, %(beneficiaries)d beneficiari, "
                        "%(vouchers)d buoni, %(merchants)d negozi, %(users)d utenti."
                    )
                    % vars(summary)
                )
            )

    def _print_logins(self, report: dict) -> None:
        write = self.stdout.write
        write(_("Accessi di prova (password valide solo per la demo):"))
        rows = [[_("utente"), _("password"), _("ruolo"), _("ente")]]
        rows += [
            [
                u["username"],
                u["password"],
                str(ROLE_LABELS.get(u["role"], u["role"])),
                u["organization"],
            ]
            for u in report["users"]
        ]
        for line in _table(rows):
            write(line)

        access = demo_app_access()
        if access is not None:
            write("")
            write(
                _(
                    "App dei beneficiari (%(name)s): codice fiscale %(fiscal_code)s, codice di "
                    "accesso %(access_code)s; oppure il link di accesso inviato a %(email)s, "
                    "che in sviluppo compare nel terminale del server."
                )
                % access
            )

        transfer_initiatives = demo_transfer_initiatives()
        if transfer_initiatives:
            write("")
            write(
                _(
                    "Bandi pagati con bonifico: %(calls)s; rimborsi da esaminare (convalida) e "
                    "distinta dei beneficiari (agenzia) in "
                    "/admin/vouchers/reimbursementclaim/prepara-distinta/."
                )
                % {"calls": ", ".join(f"«{title}»" for title in transfer_initiatives)}
            )

        if any(m["owner"] for m in report["merchants"]):
            write("")
            write(
                _(
                    "Titolari e cassieri entrano nella cassa (/cassa/) con utente e password: "
                    "verificano e incassano i buoni e vedono le vendite del giorno del negozio; "
                    "il titolare può annullare anche quelle dei cassieri."
                )
            )

        tills = [m for m in report["merchants"] if m["device_key"]]
        if tills:
            write("")
            write(_("Chiavi delle casse (intestazione Authorization: Token <chiave>):"))
            rows = []
            for shop in tills:
                status = str(Merchant.Status(shop["status"]).label)
                circuit = _("nel circuito") if shop["in_circuit"] else _("fuori circuito")
                rows.append([shop["name"], f"{status}, {circuit}", shop["device_key"]])
            for line in _table(rows):
                write(line)

        examples = []
        for state in STATES:
            voucher = next((v for v in report["vouchers"] if v["state"] == state), None)
            if voucher is not None:
                examples.append(
                    [
                        group_code(voucher["code"]),
                        str(STATE_LABELS[state]),
                        _("%(balance)s su %(face_value)s")
                        % {
                            "balance": format_euro(Decimal(voucher["balance"])),
                            "face_value": format_euro(Decimal(voucher["face_value"])),
                        },
                        voucher["holder_name"],
                    ]
                )
        if examples:
            write("")
            write(_("Buoni di prova (uno per stato; tutti con --json):"))
            for line in _table(examples):
                write(line)
