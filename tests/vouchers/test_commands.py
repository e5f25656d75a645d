from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests import factories
from vouchers.models import Voucher

pytestmark = pytest.mark.django_db


def test_expire_vouchers_command_expires_past_vouchers_once(capsys):
    voucher = factories.voucher()
    later = (voucher.valid_until + timedelta(days=1)).isoformat()
    call_command("expire_vouchers", "--date", later)
    assert "1" in capsys.readouterr().out
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.EXPIRED
    call_command("expire_vouchers", "--date", later)
    assert "0" in capsys.readouterr().out


def test_expire_vouchers_command_refuses_a_bad_date():
    with pytest.raises(CommandError):
        call_command("expire_vouchers", "--date", "31/12/2026")


def test_expire_vouchers_command_leaves_valid_vouchers_alone():
    voucher = factories.voucher()
    call_command("expire_vouchers", "--date", timezone.localdate().isoformat())
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.ACTIVE
