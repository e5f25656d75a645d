from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from merchants.errors import RedemptionError
from merchants.models import Redemption


@extend_schema_field({"type": "string", "pattern": r"^\d+(\.\d{1,2})?$", "example": "12.50"})
class LooseAmountField(serializers.Field):
    """An amount as a decimal string ("12.50"); JSON numbers are taken by their text."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            raise RedemptionError("invalid_amount")
        return data if isinstance(data, str) else repr(data)

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
    amount = LooseAmountField(
        required=False,
        allow_null=True,
        help_text='Decimal string such as "12.50"; omit it for fixed-denomination buoni.',
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
