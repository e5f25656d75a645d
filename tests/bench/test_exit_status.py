"""A bench whose checks fail says so with its exit status, not only in its output."""

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def admin_scale():
    return load("admin_scale")


def page(admin_scale, *, error: str = "", ms: float = 120.0):
    measured = admin_scale.Page("/admin/vouchers/voucher/", "desk", "vouchers")
    measured.error = error
    if not error:
        measured.times = [ms / 1000] * 3
        measured.queries = [8] * 3
        measured.sql_ms = [10.0] * 3
    return measured


def test_admin_scale_exits_1_when_a_check_of_the_built_data_failed(admin_scale, capsys):
    status = admin_scale.exit_status(marker={"checks_failed": 1}, pages=[page(admin_scale)])

    assert status == 1
    assert "1 failed checks of the built data" in capsys.readouterr().out


def test_admin_scale_exits_1_when_a_page_answered_with_an_error(admin_scale):
    pages = [page(admin_scale), page(admin_scale, error="HTTP 500")]

    assert admin_scale.exit_status(marker={"checks_failed": 0}, pages=pages) == 1


def test_admin_scale_exits_0_for_pages_over_the_goals_and_a_roles_403(admin_scale):
    pages = [page(admin_scale, ms=900.0), page(admin_scale, error="HTTP 403")]

    assert pages[0].failed  # over the goal: reported, but a figure
    assert admin_scale.exit_status(marker={"checks_failed": 0}, pages=pages) == 0
    assert admin_scale.exit_status(marker={}, pages=pages) == 0  # a marker of an older build


def test_every_bench_script_returns_its_status_to_the_shell():
    for script in sorted(BENCH.glob("[!_]*.py")):
        text = script.read_text()
        assert "sys.exit(main())" in text or "sys.exit(1)" in text, script.name
