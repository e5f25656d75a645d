from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from merchants.errors import RedemptionError
from merchants.models import Redemption
from merchants.services.tills import AMOUNT_PATTERN


@extend_schema_field({"type": "string", "pattern": AMOUNT_PATTERN, "example": "12.50"})
class AmountField(serializers.Field):
    """An amount as the schema's decimal string ("12.50"): a JSON number is refused here,
    a string outside the pattern by ``voucher_redeem`` (which records the refusal)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise RedemptionError("invalid_amount")
        return data

    def to_representation(self, value):
        return str(value)


class VoucherCheckInputSerializer(serializers.Serializer):
    code = serializers.CharField(
        max_length=64, trim_whitespace=True, help_text="The voucher code, with or without dashes."
    )


class InitiativeBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()


class VoucherCheckOutputSerializer(serializers.Serializer):
    holder_name = serializers.CharField()
    balance = serializers.DecimalField(max_digits=10, decimal_places=2)
    face_value = serializers.DecimalField(max_digits=10, decimal_places=2)
    currency = serializers.CharField()
    valid_from = serializers.DateField()
    valid_until = serializers.DateField()
    initiative = InitiativeBriefSerializer()
    partial_allowed = serializers.BooleanField()
    redeemable = serializers.BooleanField()
    reason = serializers.CharField(allow_null=True, help_text="Null or an error code.")
    reason_detail = serializers.CharField(
        allow_null=True, help_text="The reason in words, in the request's language."
    )


class RedemptionInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64, trim_whitespace=True)
    amount = AmountField(
        required=False,
        allow_null=True,
        help_text=(
            'Decimal string such as "12.50" (digits 0-9, a point, at most two decimals); '
            "omit it or send null for fixed-denomination buoni."
        ),
    )


class RedemptionOutputSerializer(serializers.Serializer):
    # A plain Serializer: a ModelSerializer would inspect the model again for every
    # response of the redemption endpoint.
    id = serializers.IntegerField(read_only=True)
    amount = serializers.DecimalField(max_digits=10, decimal_places=2)
    balance_after = serializers.DecimalField(max_digits=10, decimal_places=2)
    holder_name = serializers.CharField(source="voucher.beneficiary.full_name")
    created_at = serializers.DateTimeField()
    receipt_number = serializers.CharField()
    status = serializers.ChoiceField(choices=Redemption.Status.choices)
    voided_at = serializers.DateTimeField(allow_null=True)


class RedemptionListOutputSerializer(serializers.Serializer):
    date = serializers.DateField()
    count = serializers.IntegerField()
    total = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="Sum of the day's confirmed redemptions."
    )
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = RedemptionOutputSerializer(many=True)


class ScanInputSerializer(serializers.Serializer):
    image = serializers.FileField(help_text="A camera frame, JPEG or PNG, at most 5 MB.")


class ScanOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
