"""Who reads and changes what: every role against every admin page, API endpoint and PWA page.

Two municipalities, A ("Alfa") and B ("Bravo"), each with one row of everything
(``tests.matrix_fixtures``). A user of every role of A opens B's rows by their ids, in the
admin, through the API and in the app: allowed roles see only A's rows, everybody else is
refused, and nothing of B changes. Every page a user of A may open is searched for the
word "Bravo", which every row of B that is not public carries.

The admins, their extra pages and the API endpoints are enumerated from the registry and
the URLconf: a new one fails here until its expected access is declared below.
"""

import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from core.models import Role
from merchants.models import DeviceKey, IdempotencyRecord, MerchantStaff, Redemption, RefusedAttempt
from merchants.services.devices import device_key_revoke
from tests.matrix_fixtures import (
    BENEFICIARY,
    CASHIER,
    MERCHANT_OWNER,
    SUPERUSER,
    World,
    world_build,
)
from vouchers.models import Voucher

pytestmark = pytest.mark.django_db  # every test: the module's data needs the test database
# Importing the URLconf registers some admins (the two-factor devices).
assert get_resolver().url_patterns

ALL, OWN, SCOPED, NONE = "all", "own", "scoped", "none"
PM, DO, VA, TU = Role.PROGRAMME_MANAGER, Role.DESK_OPERATOR, Role.VALIDATOR, Role.TUTOR
FM, FU, AG = Role.FUND_MANAGER, Role.FUNDER, Role.AGENCY_ADMIN
PEOPLE = [SUPERUSER, *Role.values, MERCHANT_OWNER, CASHIER, BENEFICIARY]
EVERYTHING = {SUPERUSER: ALL, AG: ALL}

# What each role sees of each admin's rows, for a user of municipality A. ALL: every row,
# B's too; OWN: A's rows and not B's; SCOPED: not B's (A's may be hidden as well); NONE
# (any role not listed): the list is refused. B's row of each model is in
# ``Tenant.rows``; models without one (shared catalogues) are checked on the list only.
ACCESS: dict[str, dict[str, str]] = {
    "auth.User": {SUPERUSER: ALL},
    "auth.Group": {SUPERUSER: ALL},
    "core.Organization": EVERYTHING,
    "core.Fund": {**EVERYTHING, PM: OWN, FM: OWN},
    "core.Contribution": {**EVERYTHING, FM: OWN},
    "core.Journal": {**EVERYTHING, FM: OWN},
    "core.Posting": {**EVERYTHING, FM: OWN},
    "core.Account": {**EVERYTHING, FM: OWN},
    # Agency matters: staff of a municipality with the permission see an empty list.
    "core.PaymentBatch": {**EVERYTHING, PM: SCOPED},
    "merchants.Settlement": EVERYTHING,
    "vouchers.SpendingCategory": {**EVERYTHING, PM: ALL},  # one catalogue for everybody
    # Tutors refer people of any municipality to any published call.
    "vouchers.Initiative": {**EVERYTHING, PM: OWN, DO: OWN, VA: OWN, TU: ALL, FM: OWN},
    # A tutor sees his own cases only (test_admin_scoping checks which).
    "vouchers.Application": {**EVERYTHING, PM: OWN, DO: OWN, VA: OWN, TU: SCOPED},
    "vouchers.Beneficiary": {**EVERYTHING, PM: OWN, DO: OWN, VA: OWN, TU: SCOPED},
    "vouchers.Voucher": {**EVERYTHING, PM: OWN, DO: OWN},
    "vouchers.IssuanceRun": {**EVERYTHING, PM: OWN},
    # Archives hold every applicant's data: those who manage calls and see applications.
    "vouchers.ArchiveExport": {**EVERYTHING, PM: OWN},
    "vouchers.Notification": {**EVERYTHING, PM: OWN, DO: OWN},
    "merchants.Merchant": {**EVERYTHING, PM: OWN},
    "merchants.DeviceKey": EVERYTHING,
    "merchants.Redemption": {**EVERYTHING, PM: OWN},
    "merchants.RefusedAttempt": EVERYTHING,
    "vouchers.ReimbursementClaim": {**EVERYTHING, PM: OWN, DO: OWN, VA: OWN},
    "vouchers.IncomingTransfer": {**EVERYTHING, PM: SCOPED},
    # Tutors see every published call, and so where its budget comes from.
    "vouchers.InitiativeFunding": {**EVERYTHING, PM: OWN, DO: OWN, VA: OWN, TU: ALL, FM: OWN},
    # Two-factor devices are the superuser's.
    "otp_totp.TOTPDevice": {SUPERUSER: ALL},
    "otp_static.StaticDevice": {SUPERUSER: ALL},
}

# Who gets the add page of each admin (anyone else: refused).
ADD: dict[str, set[str]] = {
    "auth.User": {SUPERUSER},
    "auth.Group": {SUPERUSER},
    "core.Organization": {SUPERUSER, AG},
    "core.Fund": {SUPERUSER, AG, FM},
    "core.Contribution": {SUPERUSER, AG, FM},
    "vouchers.SpendingCategory": {SUPERUSER, AG},
    "vouchers.Initiative": {SUPERUSER, AG, PM},
    "vouchers.Application": {SUPERUSER, DO, TU},
    "vouchers.Beneficiary": {SUPERUSER, DO},
    "merchants.Merchant": {SUPERUSER, AG},
    "vouchers.InitiativeFunding": {SUPERUSER, AG, PM},
}

# Arguments of the extra admin pages beyond one object id (that of B's row of the model).
URL_ARGUMENTS = {
    "vouchers_application_document": lambda b: [b.extra["waiting"].pk, b.extra["document"].pk],
    "vouchers_reimbursementclaim_receipt": lambda b: [
        b.rows["vouchers.ReimbursementClaim"].pk,
        b.rows["vouchers.Expense"].pk,
    ],
}
HISTORY_VERSION_URL = "_simple_history"


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The two municipalities, built once for the module and rolled back after it."""
    with django_db_blocker.unblock():
        name = str(connection.settings_dict["NAME"])
        assert "test" in name or "memory" in name, f"not a test database: {name}"
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield world_build()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def registered_labels() -> list[str]:
    return sorted(model._meta.label for model in admin.site._registry)


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


REFUSAL_REDIRECTS = ("admin:index", "admin:login", "webapp:login", "webapp:till-login")


def refused(response) -> bool:
    """A refusal: forbidden, not found, or sent to a login page or to the admin's index."""
    if response.status_code in (401, 403, 404, 405):
        return True
    if response.status_code == 302:
        target = response["Location"].split("?")[0]
        return target in {reverse(name) for name in REFUSAL_REDIRECTS}
    return False


def leaks(response, marker: str) -> bool:
    content = getattr(response, "content", b"")
    return marker.encode() in content


# Tables a refused request may write to: sessions, logins, and the log of refused attempts.
AUDIT_TABLES = {Session, RefusedAttempt, *apps.get_app_config("axes").get_models()}


def snapshot(*objects) -> tuple:
    """The rows of these objects and the number of rows of every other table (one query)."""
    rows = [type(obj)._base_manager.filter(pk=obj.pk).values().first() for obj in objects]
    tables = sorted(
        {
            model._meta.db_table
            for model in apps.get_models(include_auto_created=True)
            if model not in AUDIT_TABLES and model._meta.managed and not model._meta.proxy
        }
    )
    quote = connection.ops.quote_name
    counts = ", ".join(f"(SELECT COUNT(*) FROM {quote(table)})" for table in tables)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")
        return rows, dict(zip(tables, cursor.fetchone(), strict=True))


def b_rows(world: World) -> list:
    return list(world.b.rows.values())


# --- every admin, every role ----------------------------------------------------------


def test_every_role_has_someone_to_log_in_as(world):
    """A new role must get its user (and its column in the matrix) before it ships."""
    for role in PEOPLE:
        for tenant in ("A", "B"):
            assert world.user(role, tenant) is not None, (role, tenant)
    shop_roles = {MerchantStaff.Role.OWNER: MERCHANT_OWNER, MerchantStaff.Role.CASHIER: CASHIER}
    assert set(MerchantStaff.Role.values) == set(shop_roles)
    for shop_role, role in shop_roles.items():
        assert MerchantStaff.objects.get(user=world.user(role, "A")).role == shop_role


@pytest.mark.parametrize("label", registered_labels())
def test_every_admin_has_a_declared_access(label):
    assert label in ACCESS, (
        f"{label} is registered in the admin but its expected access is not declared: add "
        f"it to ACCESS (and ADD if anyone may add rows) in {__name__}."
    )
    unknown = set(ACCESS[label]) - set(PEOPLE)
    assert not unknown, unknown


@pytest.mark.parametrize("role", PEOPLE)
@pytest.mark.parametrize("label", registered_labels())
def test_admin_pages_of_another_municipality(client, world, label, role):
    if label not in ACCESS:
        pytest.fail(f"declare the expected access of {label} in ACCESS")
    model = apps.get_model(label)
    expected = ACCESS[label].get(role, NONE)
    own, other = world.a.rows.get(label), world.b.rows.get(label)
    marker = world.b.marker
    user = world.user(role, "A")
    client.force_login(user)
    problems = []

    response = client.get(admin_url(model, "changelist"))
    if expected == NONE:
        if not refused(response):
            problems.append(f"list: {response.status_code}, expected a refusal")
    elif response.status_code != 200:
        problems.append(f"list: {response.status_code}, expected 200")
    else:
        shown = set(response.context["cl"].queryset.values_list("pk", flat=True))
        if other is not None and expected == ALL and other.pk not in shown:
            problems.append("list: B's row missing")
        if other is not None and expected != ALL and other.pk in shown:
            problems.append("list: B's row shown")
        if own is not None and expected == OWN and own.pk not in shown:
            problems.append("list: A's own row missing")
        if expected != ALL and leaks(response, marker):
            problems.append("list: B's data on the page")

    response = client.get(admin_url(model, "add"))
    if role in ADD.get(label, ()):
        if response.status_code != 200:
            problems.append(f"add: {response.status_code}, expected 200")
        elif leaks(response, marker) and expected != ALL:
            problems.append("add: B's data offered in the form")
    elif not refused(response):
        problems.append(f"add: {response.status_code}, expected a refusal")

    if other is not None:
        change = admin_url(model, "change", other.pk)
        for view, url in [
            ("change", change),
            ("history", admin_url(model, "history", other.pk)),
        ]:
            response = client.get(url)
            if expected == ALL:
                if response.status_code != 200:
                    problems.append(f"{view} of B's row: {response.status_code}, expected 200")
            elif not refused(response) or leaks(response, marker):
                problems.append(f"{view} of B's row: {response.status_code}, expected a refusal")
        if expected != ALL:
            before = snapshot(other)
            for view, url in [("change", change), ("delete", admin_url(model, "delete", other.pk))]:
                response = client.post(url, {"_save": "1", "post": "yes"})
                if not refused(response):
                    problems.append(f"POST {view} of B's row: {response.status_code}")
            if snapshot(other) != before:
                problems.append("POST to B's row changed the database")

    if expected not in (NONE, ALL) and other is not None:
        problems += bulk_actions_on(client, world, model, other, user)
    assert not problems, f"{label} as {role} of A: " + "; ".join(problems)


def bulk_actions_on(client, world, model, other, user) -> list[str]:
    """Run every bulk action the user has on B's row picked by hand: nothing of B changes."""
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/")
    request.user = user
    problems = []
    for name in model_admin.get_actions(request):
        before = snapshot(*b_rows(world))
        response = client.post(
            admin_url(model, "changelist"),
            {
                "action": name,
                ACTION_CHECKBOX_NAME: [other.pk],
                "confirm": "yes",
                "reason": "Prova di accesso",
                "format": "0",
                "resource": "0",
            },
        )
        if response.status_code not in (200, 302, 403):
            problems.append(f"action {name}: {response.status_code}")
        if leaks(response, world.b.marker):
            problems.append(f"action {name}: B's data in the answer")
        if snapshot(*b_rows(world)) != before:
            problems.append(f"action {name} changed B's rows")
    return problems


STAFF = [SUPERUSER, *Role.values]


@pytest.mark.parametrize("role", STAFF)
def test_the_sidebar_shows_only_links_that_open(client, world, role):
    """A link in the menu that answers 403 is a dead end for busy staff: none may be shown."""
    client.force_login(world.user(role, "A"))
    response = client.get(reverse("admin:index"))
    if response.status_code != 200:
        return  # staff without any admin module get the admin's refusal, no menu
    links = {
        href.split("#")[0]
        for href in re.findall(r'href="(/admin/[^"]*)"', response.content.decode())
        if "logout" not in href
    }
    assert links
    dead = [href for href in sorted(links) if client.get(href).status_code in (403, 404)]
    assert not dead, dead


@pytest.mark.parametrize("role", [role for role in STAFF if role not in EVERYTHING])
def test_dashboard_search_and_autocomplete_show_nothing_of_another_municipality(
    client, world, role
):
    client.force_login(world.user(role, "A"))
    marker = world.b.marker
    for url in [reverse("admin:index"), f"{reverse('admin:search')}?s=bianchi"]:
        response = client.get(url)
        assert response.status_code in (200, 302, 403), (url, response.status_code)
        assert not leaks(response, marker), url
    request = RequestFactory().get("/")
    request.user = world.user(role, "A")
    for model, model_admin in admin.site._registry.items():
        for field_name in model_admin.get_autocomplete_fields(request):
            response = client.get(
                reverse("admin:autocomplete"),
                {
                    "app_label": model._meta.app_label,
                    "model_name": model._meta.model_name,
                    "field_name": field_name,
                    "term": "",
                },
            )
            assert response.status_code in (200, 403), (model, field_name, response.status_code)
            assert not leaks(response, marker), (model, field_name)


def test_a_desk_operator_cannot_file_a_citizen_under_another_municipality(client, world):
    client.force_login(world.user(DO, "A"))
    before = snapshot(*b_rows(world))
    response = client.post(
        admin_url(apps.get_model("vouchers.Beneficiary"), "add"),
        {
            "first_name": "Carla",
            "last_name": "Intrusa",
            "fiscal_code": "RSSMRA80A01H501U",
            "municipality": world.b.municipality.pk,
        },
    )
    assert response.status_code == 200  # the form again, with its error
    assert response.context["adminform"].form.errors["municipality"]
    assert snapshot(*b_rows(world)) == before


def test_a_programme_manager_cannot_open_a_call_in_another_municipality_or_on_its_fund(
    client, world
):
    client.force_login(world.user(PM, "A"))
    before = snapshot(*b_rows(world))
    response = client.post(
        admin_url(apps.get_model("vouchers.Initiative"), "add"),
        {
            "title": "Bando intruso",
            "municipalities": [world.b.municipality.pk],
            "fund": world.b.rows["core.Fund"].pk,
            "face_value": "50.00",
            "valid_from": "2026-01-01",
            "valid_until": "2026-12-31",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "municipalities" in errors and "fund" in errors, errors
    assert snapshot(*b_rows(world)) == before


# --- the extra pages of the admins ------------------------------------------------------

STANDARD_VIEWS = {"changelist", "add", "history", "delete", "change"}


def extra_admin_urls() -> list[tuple[str, str, int]]:
    """(url name, model label, number of arguments) of every page an admin adds."""
    found = []
    for model, model_admin in admin.site._registry.items():
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        for pattern in model_admin.get_urls():
            if not isinstance(pattern, URLPattern) or not pattern.name:
                continue
            if pattern.name.removeprefix(prefix) in STANDARD_VIEWS:
                continue
            arguments = pattern.pattern.regex.groups
            found.append((pattern.name, model._meta.label, arguments))
    return sorted(found)


def extra_url_arguments(world: World, name: str, label: str, count: int) -> list | None:
    if name in URL_ARGUMENTS:
        return URL_ARGUMENTS[name](world.b)
    other = world.b.rows.get(label)
    if count == 0:
        return []
    if other is None:
        return None
    if count == 1:
        return [other.pk]
    if name.endswith(HISTORY_VERSION_URL):
        return [other.pk, other.history.order_by("history_id").first().history_id]
    return None


@pytest.mark.parametrize(("name", "label", "count"), extra_admin_urls())
def test_extra_admin_pages_refuse_another_municipalitys_rows(client, world, name, label, count):
    """Every role but the agency's, on B's row (or on the whole list): refused, nothing changes."""
    arguments = extra_url_arguments(world, name, label, count)
    assert arguments is not None, (
        f"admin page {name} takes {count} arguments: say in URL_ARGUMENTS which of B's rows "
        f"they are"
    )
    url = reverse(f"admin:{name}", args=arguments)
    marker = world.b.marker
    before = snapshot(*b_rows(world))
    problems = []
    for role in PEOPLE:
        if role in EVERYTHING:
            continue
        if name.endswith(HISTORY_VERSION_URL) and ACCESS.get(label, {}).get(role) == ALL:
            continue  # he reads every row of the model, with its history
        client.force_login(world.user(role, "A"))
        response = client.get(url)
        if arguments and not refused(response):
            problems.append(f"{role}: GET {response.status_code}, expected a refusal")
        if not arguments and response.status_code not in (200, 302, 403, 404):
            problems.append(f"{role}: GET {response.status_code}")
        if leaks(response, marker):
            problems.append(f"{role}: B's data on the page")
        response = client.post(
            url, {"confirm": "yes", "reason": "Prova di accesso", "format": "0", "resource": "0"}
        )
        if arguments and not refused(response):
            problems.append(f"{role}: POST {response.status_code}, expected a refusal")
        if leaks(response, marker):
            problems.append(f"{role}: B's data in the answer to a POST")
    if snapshot(*b_rows(world)) != before:
        problems.append("B's rows changed")
    assert not problems, f"{url}: " + "; ".join(problems)


# --- the API ----------------------------------------------------------------------------

# Every endpoint under /api/v1/, its methods, and how to fill its path with B's rows.
API_ENDPOINTS = {
    "api-voucher-check": {"methods": ["post"], "arguments": {}},
    "api-redemptions": {"methods": ["get", "post"], "arguments": {}},
    "api-redemption-void": {
        "methods": ["post"],
        "arguments": {"redemption_id": lambda b: b.rows["merchants.Redemption"].pk},
    },
    "api-scan": {"methods": ["post"], "arguments": {}},
    "api-redemption-lookup": {"methods": ["get"], "arguments": {}},
}


def api_patterns() -> list[tuple[str, list[str]]]:
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif (prefix + str(pattern.pattern)).startswith("api/v1/"):
                yield pattern.name, list(pattern.pattern.converters)

    return sorted(walk(get_resolver().url_patterns))


@pytest.mark.parametrize(("name", "parameters"), api_patterns())
def test_every_api_endpoint_is_declared(name, parameters):
    assert name in API_ENDPOINTS, f"declare the API endpoint {name} in API_ENDPOINTS"
    assert set(API_ENDPOINTS[name]["arguments"]) == set(parameters), (
        f"say in API_ENDPOINTS which of B's rows fill {parameters} of {name}"
    )


def api_url(world: World, name: str) -> str:
    arguments = {key: value(world.b) for key, value in API_ENDPOINTS[name]["arguments"].items()}
    return reverse(name, kwargs=arguments)


def assert_error(response, status: int, *codes: str) -> None:
    assert response.status_code == status, (response.status_code, response.content)
    body = response.json()
    assert set(body) == {"code", "detail"}, body
    assert body["detail"], body
    if codes:
        assert body["code"] in codes, body


def api_call(client, method: str, url: str, world: World):
    body = {"code": world.b.rows["vouchers.Voucher"].code, "amount": "1.00"}
    headers = {"HTTP_IDEMPOTENCY_KEY": "matrix-api"}
    if method == "get":
        return client.get(url)
    return client.post(url, body, format="json", **headers)


@pytest.mark.parametrize("name", sorted(API_ENDPOINTS))
def test_api_without_credentials_or_with_a_revoked_key_is_refused(world, name):
    url = api_url(world, name)
    before = snapshot(*b_rows(world))
    for method in API_ENDPOINTS[name]["methods"]:
        assert_error(api_call(APIClient(), method, url, world), 401, "not_authenticated")
        revoked = APIClient()
        key = world.a.extra["device_key"]
        revoked.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        device_key_revoke(
            device_key=DeviceKey.objects.get(pk=world.a.rows["merchants.DeviceKey"].pk)
        )
        assert_error(api_call(revoked, method, url, world), 401, "not_authenticated")
        staff = APIClient()
        staff.force_login(world.user(PM, "A"))
        assert_error(api_call(staff, method, url, world), 403, "not_a_merchant")
    assert snapshot(*b_rows(world)) == before


@pytest.fixture
def shop_a_till(world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {world.a.extra['device_key']}")
    return client


def test_a_till_of_shop_a_cannot_touch_shop_bs_redemptions_or_vouchers(world, shop_a_till):
    before = snapshot(*b_rows(world))
    voucher_b = world.b.rows["vouchers.Voucher"]
    balance = Voucher.objects.get(pk=voucher_b.pk).balance

    response = shop_a_till.post(api_url(world, "api-redemption-void"))
    assert_error(response, 404, "redemption_not_found")
    settled = world.b.extra["settled_redemption"]
    response = shop_a_till.post(reverse("api-redemption-void", args=[settled.pk]))
    assert_error(response, 404, "redemption_not_found")

    response = shop_a_till.post(
        reverse("api-voucher-check"), {"code": voucher_b.code}, format="json"
    )
    assert response.status_code != 200 or not response.json().get("usable"), response.json()
    assert world.b.marker not in response.content.decode()
    response = shop_a_till.post(
        reverse("api-redemptions"),
        {"code": voucher_b.code, "amount": "1.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="matrix-cross-shop",
    )
    assert response.status_code >= 400, response.json()
    assert set(response.json()) == {"code", "detail"}

    sale_b = world.b.rows["merchants.Redemption"]
    key_b = IdempotencyRecord.objects.filter(redemption=sale_b).values_list("key", flat=True)
    assert key_b, "B's sale was recorded with an Idempotency-Key"
    response = shop_a_till.get(reverse("api-redemption-lookup"), HTTP_IDEMPOTENCY_KEY=key_b[0])
    assert_error(response, 404, "redemption_not_found")
    # Asking closes the key for shop A alone (its own record, with no sale); B's sale keeps it.
    closed = IdempotencyRecord.objects.get(key=key_b[0], redemption=None)
    assert closed.merchant_id == world.a.rows["merchants.DeviceKey"].merchant_id
    assert IdempotencyRecord.objects.get(key=key_b[0], redemption=sale_b).merchant_id == (
        sale_b.merchant_id
    )

    listed = shop_a_till.get(reverse("api-redemptions"))
    assert listed.status_code == 200
    receipts = {row["receipt_number"] for row in listed.json()["results"]}
    assert world.a.rows["merchants.Redemption"].receipt_number in receipts
    assert world.b.rows["merchants.Redemption"].receipt_number not in receipts
    assert world.b.marker not in listed.content.decode()

    assert Voucher.objects.get(pk=voucher_b.pk).balance == balance
    rows, counts = before
    keys = IdempotencyRecord._meta.db_table
    assert snapshot(*b_rows(world)) == (rows, {**counts, keys: counts[keys] + 1})


# --- the app: beneficiaries and cashiers ------------------------------------------------

# The app's pages that take an id, and whether anyone may open them (public pages).
PWA_PAGES = {
    "webapp:initiative": ("initiative_id", True),
    "webapp:initiative-shops": ("initiative_id", True),
    "webapp:initiative-ranking": ("initiative_id", True),
    "webapp:apply": ("initiative_id", True),
    "webapp:login-link": ("token", True),
    "transparency": ("initiative_id", True),
    "webapp:my-voucher": ("voucher_id", False),
    "webapp:my-application": ("application_id", False),
    "webapp:claim-new": ("application_id", False),
    "vouchers:voucher-qr": ("voucher_id", False),
    # Files: a public call's documents; a beneficiary's own attachments and receipts.
    "webapp:initiative-document": ("document_id", True),
    "webapp:my-application-document": ("document_id", False),
    "webapp:my-expense-receipt": ("expense_id", False),
}


def app_patterns() -> list[str]:
    def walk(patterns, namespace=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{pattern.namespace}:" if pattern.namespace else namespace
                if pattern.namespace == "admin" or str(pattern.pattern).startswith("api/"):
                    continue
                yield from walk(pattern.url_patterns, inner)
            elif pattern.pattern.converters or pattern.pattern.regex.groupindex:
                yield f"{namespace}{pattern.name}"

    return sorted(set(walk(get_resolver().url_patterns)) - {"None"})


@pytest.mark.parametrize("name", app_patterns())
def test_every_app_page_with_an_id_is_declared(name):
    assert name in PWA_PAGES, f"declare who may open the app page {name} in PWA_PAGES"


# A private file's address takes its owner's id and its own.
FILE_PAGES = {
    "webapp:my-application-document": lambda b: [
        b.extra["document"].application_id,
        b.extra["document"].pk,
    ],
    "webapp:my-expense-receipt": lambda b: [
        b.rows["vouchers.ReimbursementClaim"].pk,
        b.rows["vouchers.Expense"].pk,
    ],
}


def private_app_urls(world: World) -> list[str]:
    b = world.b
    ids = {
        "voucher_id": b.rows["vouchers.Voucher"].pk,
        "application_id": b.rows["vouchers.Application"].pk,
    }
    urls = []
    for name, (parameter, public) in PWA_PAGES.items():
        if public:
            continue
        if name in FILE_PAGES:
            urls.append(reverse(name, args=FILE_PAGES[name](b)))
            continue
        kwargs = {parameter: ids[parameter]}
        if name == "vouchers:voucher-qr":
            for image_format in ("svg", "png"):
                urls.append(reverse(name, kwargs={**kwargs, "image_format": image_format}))
            continue
        urls.append(reverse(name, kwargs=kwargs))
    claimant = b.extra["claimant"].pk
    urls.append(reverse("webapp:my-application", args=[claimant]))
    urls.append(reverse("webapp:claim-new", args=[claimant]))
    return urls


@pytest.mark.parametrize("role", [BENEFICIARY, "claimant", CASHIER, MERCHANT_OWNER, PM, FU])
def test_nobody_of_a_opens_bs_vouchers_applications_claims_or_qr_codes(client, world, role):
    client.force_login(world.user(role, "A"))
    before = snapshot(*b_rows(world))
    for url in private_app_urls(world):
        response = client.get(url)
        assert refused(response), (url, response.status_code)
        assert not leaks(response, world.b.marker), url
        response = client.post(url, {"note": "Prova", "expense_0_amount": "1,00"})
        assert refused(response), (url, "POST", response.status_code)
    assert snapshot(*b_rows(world)) == before


@pytest.mark.parametrize("role", [BENEFICIARY, "claimant"])
def test_a_beneficiary_sees_only_his_own_vouchers_applications_and_claims(client, world, role):
    client.force_login(world.user(role, "A"))
    for name in ["webapp:my-vouchers", "webapp:my-applications", "webapp:my-claims"]:
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert not leaks(response, world.b.marker), name
    mine = world.a.rows["vouchers.Voucher"]
    if role == BENEFICIARY:
        assert client.get(reverse("webapp:my-voucher", args=[mine.pk])).status_code == 200
        qr = reverse("vouchers:voucher-qr", kwargs={"voucher_id": mine.pk, "image_format": "svg"})
        assert client.get(qr).status_code == 200
    else:
        claims = client.get(reverse("webapp:my-claims")).content.decode()
        assert "12,50" in claims


def test_a_cashier_of_shop_a_cannot_list_or_void_shop_bs_redemptions(client, world):
    client.force_login(world.user(CASHIER, "A"))
    api = APIClient(enforce_csrf_checks=False)
    api.force_login(world.user(CASHIER, "A"))
    redemption_b = world.b.rows["merchants.Redemption"]
    before = snapshot(*b_rows(world))

    response = api.post(reverse("api-redemption-void", args=[redemption_b.pk]))
    assert_error(response, 404, "redemption_not_found")
    listed = api.get(reverse("api-redemptions"))
    assert listed.status_code == 200
    assert redemption_b.receipt_number not in listed.content.decode()
    assert world.b.marker not in listed.content.decode()
    till = client.get(reverse("webapp:till"))
    assert till.status_code == 200 and not leaks(till, world.b.marker)

    assert Redemption.objects.get(pk=redemption_b.pk).status == Redemption.Status.CONFIRMED
    assert snapshot(*b_rows(world)) == before
