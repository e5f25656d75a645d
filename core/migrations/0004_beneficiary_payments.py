from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("core", "0003_funding_donations")]

    operations = [
        migrations.AddField(
            model_name="paymentline",
            name="beneficiary_ref",
            field=models.BigIntegerField(
                blank=True,
                help_text="La persona pagata, per la registrazione contabile del pagamento.",
                null=True,
                verbose_name="beneficiario pagato",
            ),
        ),
        migrations.AddField(
            model_name="paymentline",
            name="claim_ref",
            field=models.BigIntegerField(
                blank=True,
                db_index=True,
                help_text="La richiesta di rimborso che il bonifico paga.",
                null=True,
                verbose_name="richiesta di rimborso",
            ),
        ),
        migrations.AddField(
            model_name="paymentline",
            name="application_ref",
            field=models.BigIntegerField(
                blank=True,
                db_index=True,
                help_text="La domanda il cui contributo economico il bonifico paga.",
                null=True,
                verbose_name="domanda del contributo",
            ),
        ),
        migrations.AlterField(
            model_name="account",
            name="kind",
            field=models.CharField(
                choices=[
                    ("funder_source", "Fonte del finanziatore"),
                    ("fund", "Fondo"),
                    ("initiative_budget", "Budget del bando"),
                    ("vouchers_outstanding", "Buoni in circolazione"),
                    ("merchant_payable", "Debito verso l'esercente"),
                    ("merchant_settled", "Liquidato all'esercente"),
                    ("merchant_paid", "Pagato all'esercente"),
                    ("beneficiary_payable", "Debito verso il beneficiario"),
                    ("beneficiary_paid", "Pagato al beneficiario"),
                    ("transfers_received", "Trasferimenti ricevuti per il bando"),
                    ("municipality_transfers", "Trasferimenti del comune"),
                ],
                max_length=30,
                verbose_name="tipo",
            ),
        ),
        migrations.AlterField(
            model_name="journal",
            name="kind",
            field=models.CharField(
                choices=[
                    ("contribution", "Contributo ricevuto"),
                    ("budget_assigned", "Budget assegnato al bando"),
                    ("vouchers_issued", "Buoni emessi"),
                    ("redemption", "Utilizzo del buono"),
                    ("redemption_void", "Annullamento di un utilizzo"),
                    ("voucher_expired", "Buono scaduto"),
                    ("voucher_revoked", "Buono revocato"),
                    ("settlement", "Liquidazione all'esercente"),
                    ("settlement_paid", "Liquidazione pagata"),
                    ("reimbursement_approved", "Rimborso approvato"),
                    ("beneficiary_paid", "Pagamento al beneficiario"),
                    ("incoming_transfer", "Trasferimento ricevuto dal comune"),
                    ("cash_contribution", "Contributo economico concesso"),
                    ("cash_contribution_cancelled", "Contributo economico annullato"),
                ],
                max_length=30,
                verbose_name="tipo",
            ),
        ),
    ]
