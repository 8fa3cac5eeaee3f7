"""The reservations and conflicts pages through HTTP on every configured database: search and
its bad values, the detail with revisions and raw bodies, erased guests, tenant scoping, roles,
field-by-field resolution, and a bounded number of queries per page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.reservations.models import Reservation, ReservationChange, ReservationConflict
from innsync.reservations.schemas import GuestIn, ReservationCreate, RoomIn
from innsync.reservations.service import create_direct
from innsync.settings import Settings
from tests.admin.hotels import admin_settings
from tests.admin.res_data import Bookings, build_bookings
from tests.admin.test_pages import sign_in, token_of
from tests.conftest import Db


@pytest.fixture
def settings() -> Settings:
    return admin_settings()


@pytest.fixture
def bookings(db: Db, secret_box: SecretBox) -> Bookings:
    return build_bookings(db.sessions, secret_box, "harbour")


@pytest.fixture
def statements(db: Db) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


def listed(html: str) -> list[str]:
    """The guests of the list's rows, in order."""
    return re.findall(r'<th scope="row"><a href="/admin/reservations/[^"]+">([^<]+)</a>', html)


def test_search_filters(client: TestClient, bookings: Bookings) -> None:
    assert sign_in(client, bookings.emails["read_only"]) == 303
    everything = client.get("/admin/reservations")
    assert everything.status_code == 200
    assert sorted(listed(everything.text)) == ["Ada Lovelace", "Alan Turing", "Erased guest"]
    assert "Grace" not in everything.text
    stay = bookings.arrival
    for params, expected in [
        ({"guest": "  alan   TURING "}, ["Alan Turing"]),
        ({"guest": "Alan"}, []),  # names are matched whole: they are stored encrypted
        ({"reference": "OTA-200"}, ["Erased guest"]),
        ({"channel": "direct"}, ["Alan Turing"]),
        ({"channel": "fake"}, ["Ada Lovelace", "Erased guest"]),
        ({"status": "cancelled"}, []),
        ({"property": str(bookings.property_id), "guest": "Ada Lovelace"}, ["Ada Lovelace"]),
        # The PMS moved OTA-100 one day later: only it stays on the third night.
        (
            {"stay_from": str(stay + timedelta(days=2)), "stay_to": str(stay + timedelta(days=3))},
            ["Ada Lovelace"],
        ),
        ({"stay_from": str(stay - timedelta(days=9)), "stay_to": str(stay)}, []),
    ]:
        found = client.get("/admin/reservations", params=params)
        assert found.status_code == 200, (params, found.text)
        assert sorted(listed(found.text)) == expected, params


def test_bad_filter_values_are_shown_by_their_fields(
    client: TestClient, bookings: Bookings
) -> None:
    assert sign_in(client, bookings.emails["owner"]) == 303
    for params, field, message in [
        ({"stay_from": "2030-13-01", "stay_to": "2030-12-02"}, "stay_from", "YYYY-MM-DD"),
        ({"stay_from": "2030-12-05", "stay_to": "2030-12-01"}, "stay_to", "must come after"),
        ({"stay_from": "2030-12-05"}, "stay_to", "Give both dates"),
        ({"stay_from": "0001-01-01", "stay_to": "0001-01-02"}, "stay_from", "between"),
        ({"status": "lost"}, "status", "Choose a status"),
        ({"property": "not-an-id"}, "property", "Choose a property"),
        ({"page": "0"}, "page", "Not a page"),
        ({"page": "x" * 30}, "page", "Not a page"),
        ({"guest": "x" * 401}, "guest", "At most 400"),
        ({"reference": "x" * 129}, "reference", "At most 128"),
    ]:
        answer = client.get("/admin/reservations", params=params)
        assert answer.status_code == 400, params
        error = re.search(
            rf'<span class="field-error" id="{field}-error">([^<]+)</span>', answer.text
        )
        assert error is not None, (params, answer.text)
        assert message in error.group(1), params
        assert f'aria-describedby="{field}-error"' in answer.text or field == "page"
        assert listed(answer.text) == []
    # The other pages' bad values too: a 4xx, never a 500.
    assert client.get("/admin/reservations/not-an-id").status_code == 422
    assert client.get("/admin/conflicts", params={"status": "closed"}).status_code == 400


def test_pages_of_results(client: TestClient, db: Db, bookings: Bookings) -> None:
    _book_directly(db, bookings, 30)
    assert sign_in(client, bookings.emails["owner"]) == 303
    first = client.get("/admin/reservations")
    assert "33 reservations, page 1 of 2" in first.text
    assert len(listed(first.text)) == 25
    assert 'href="?page=2" rel="next"' in first.text
    second = client.get("/admin/reservations", params={"page": 2})
    assert len(listed(second.text)) == 8
    assert 'rel="next"' not in second.text
    assert not set(listed(first.text)) & set(listed(second.text)) - {"Alan Turing"}
    beyond = client.get("/admin/reservations", params={"page": 3})
    assert beyond.status_code == 200
    assert listed(beyond.text) == []


def _book_directly(db: Db, bookings: Bookings, count: int) -> None:
    with transaction(db.sessions) as session:
        for number in range(count):
            arrival = bookings.arrival + timedelta(days=10 + number)
            create_direct(
                session,
                bookings.tenant_id,
                bookings.property_id,
                ReservationCreate(
                    arrival=arrival,
                    departure=arrival + timedelta(days=1),
                    rooms=[
                        RoomIn(room_type_id=bookings.room_type_id, adults=1, amount=Decimal(80))
                    ],
                    guest=GuestIn(first_name="Guest", last_name=f"Number{number}"),
                ),
            )


def test_list_queries_do_not_grow_with_the_page(
    client: TestClient, db: Db, bookings: Bookings, statements: list[str]
) -> None:
    assert sign_in(client, bookings.emails["owner"]) == 303
    counts = []
    for more in (0, 22):
        _book_directly(db, bookings, more)
        statements.clear()
        page = client.get("/admin/reservations")
        assert page.status_code == 200
        counts.append(len([s for s in statements if "SAVEPOINT" not in s]))
        assert len(listed(page.text)) == 3 + more
    # Session lookup, properties, channels, the count and the page of rows.
    assert counts[0] == counts[1] == 5, [s[:70] for s in statements]


def test_conflict_list_queries_do_not_grow_with_conflicts(
    client: TestClient,
    db: Db,
    secret_box: SecretBox,
    bookings: Bookings,
    statements: list[str],
) -> None:
    busier = build_bookings(db.sessions, secret_box, "busier", conflicts=4)
    counts = []
    for tenant, expected in ((bookings, 1), (busier, 4)):
        client.cookies.clear()
        assert sign_in(client, tenant.emails["owner"]) == 303
        statements.clear()
        page = client.get("/admin/conflicts")
        assert page.status_code == 200
        counts.append(len([s for s in statements if "SAVEPOINT" not in s]))
        assert page.text.count('href="/admin/conflicts/') == expected
    # Session lookup, the conflicts, their bookings.
    assert counts[0] == counts[1] == 3, [s[:70] for s in statements]


def test_detail_shows_revisions_with_their_raw_bodies(
    client: TestClient, db: Db, bookings: Bookings
) -> None:
    assert sign_in(client, bookings.emails["read_only"]) == 303
    page = client.get(f"/admin/reservations/{bookings.conflicted}")
    assert page.status_code == 200
    text = page.text
    assert "Ada Lovelace" in text
    assert "Overbooked</dt><dd>No</dd>" in text
    assert "500.00 EUR" in text
    with db.sessions() as session:
        origins = list(
            session.scalars(
                select(ReservationChange.origin)
                .where(ReservationChange.reservation_id == bookings.conflicted)
                .order_by(ReservationChange.id)
            )
        )
    assert origins[0].startswith("inbox:")
    assert origins[1] == "api"
    item = origins[0].removeprefix("inbox:")
    assert f"Raw body of inbox item {item}</summary>" in text
    assert "&#34;revision_id&#34;: &#34;OTA-100-1&#34;" in text  # the body, indented JSON
    assert "Revision 2: modified" in text
    assert f'href="/admin/conflicts/{bookings.conflict_id}">resolve the conflict' in text


def test_erased_guest_shows_as_erased(client: TestClient, bookings: Bookings) -> None:
    assert sign_in(client, bookings.emails["owner"]) == 303
    page = client.get(f"/admin/reservations/{bookings.erased}")
    assert page.status_code == 200
    assert "details were erased on" in page.text
    assert "Grace" not in page.text
    assert "Hopper" not in page.text
    assert "The body was erased with the guest." in page.text


def test_direct_booking_shows_its_pushes_and_overbooking(
    client: TestClient, db: Db, bookings: Bookings
) -> None:
    with transaction(db.sessions) as session:
        session.get_one(Reservation, bookings.direct).is_overbooked = True
    assert sign_in(client, bookings.emails["owner"]) == 303
    page = client.get(f"/admin/reservations/{bookings.direct}")
    assert "Overbooked: the property had no free unit" in page.text
    assert "Overbooked</dt><dd>Yes</dd>" in page.text
    assert "Alan Turing" in page.text
    pushes = page.text.split('id="pushes-title"')[1].split("</table>")[0]
    assert '<th scope="row">OTA 0</th>' in pushes
    assert 'class="res-push res-push-pending">pending</span>' in pushes


def test_another_tenants_reservations_and_conflicts_are_not_found(
    client: TestClient, db: Db, secret_box: SecretBox, bookings: Bookings
) -> None:
    other = build_bookings(db.sessions, secret_box, "other")
    assert sign_in(client, other.emails["owner"]) == 303
    for path in (
        f"/admin/reservations/{bookings.conflicted}",
        f"/admin/reservations/{bookings.erased}",
        f"/admin/conflicts/{bookings.conflict_id}",
    ):
        assert client.get(path).status_code == 404, path
    token = token_of(client.get("/admin/conflicts").text)
    refused = client.post(
        f"/admin/conflicts/{bookings.conflict_id}/resolve",
        data={"csrf_token": token, "accept": "pms"},
    )
    assert refused.status_code == 404
    assert str(bookings.conflict_id) not in client.get("/admin/conflicts?status=all").text
    assert sorted(listed(client.get("/admin/reservations").text)) == [
        "Ada Lovelace",
        "Alan Turing",
        "Erased guest",
    ]  # the other tenant's own three
    assert str(bookings.conflicted) not in client.get("/admin/reservations").text
    with db.sessions() as session:
        assert session.get_one(ReservationConflict, bookings.conflict_id).status == "open"


def test_read_only_user_views_conflicts_but_cannot_resolve(
    client: TestClient, db: Db, bookings: Bookings
) -> None:
    assert sign_in(client, bookings.emails["read_only"]) == 303
    listing = client.get("/admin/conflicts")
    assert f'href="/admin/conflicts/{bookings.conflict_id}">OTA-100</a>' in listing.text
    page = client.get(f"/admin/conflicts/{bookings.conflict_id}")
    assert page.status_code == 200
    assert 'name="take"' not in page.text
    assert "read-only" in page.text
    refused = client.post(
        f"/admin/conflicts/{bookings.conflict_id}/resolve",
        data={"csrf_token": token_of(page.text), "accept": "channel"},
    )
    assert refused.status_code == 403
    with db.sessions() as session:
        assert session.get_one(ReservationConflict, bookings.conflict_id).status == "open"


def test_conflict_shows_both_versions_and_merges_field_by_field(
    client: TestClient, db: Db, bookings: Bookings
) -> None:
    assert sign_in(client, bookings.emails["manager"]) == 303
    url = f"/admin/conflicts/{bookings.conflict_id}"
    page = client.get(url)
    assert page.status_code == 200
    rows = dict(re.findall(r'<tr class="res-(differs|same)">\s*<th scope="row">(\w+)', page.text))
    differing = re.findall(r'<tr class="res-(?:differs)">\s*<th scope="row">(\w+)', page.text)
    assert differing == ["Dates", "Amount", "Guest"], rows
    assert page.text.count("contradicted</span>") == 2  # dates and amount held the revision
    assert "360.00 EUR" in page.text  # the channel's 3 nights at 120
    assert "500.00 EUR" in page.text

    token = token_of(page.text)
    empty = client.post(f"{url}/resolve", data={"csrf_token": token, "accept": "merge"})
    assert empty.status_code == 400
    assert "Tick the fields" in empty.text
    unknown = client.post(
        f"{url}/resolve", data={"csrf_token": token, "accept": "merge", "take": "notes"}
    )
    assert unknown.status_code == 400
    with db.sessions() as session:
        assert session.get_one(ReservationConflict, bookings.conflict_id).status == "open"

    merged = client.post(
        f"{url}/resolve",
        data={"csrf_token": token, "accept": "merge", "take": ["amount", "guest"]},
        follow_redirects=False,
    )
    assert merged.status_code == 303
    assert merged.headers["location"] == url
    with db.sessions() as session:
        conflict = session.get_one(ReservationConflict, bookings.conflict_id)
        assert (conflict.status, conflict.resolution) == ("resolved", "merge")
        assert conflict.resolved_fields == ["amount", "guest"]
        reservation = session.get_one(Reservation, bookings.conflicted)
        # The channel's amount and guest; the PMS's dates.
        assert reservation.total_amount == Decimal("360.00")
        assert reservation.arrival == bookings.arrival + timedelta(days=1)
    shown = client.get(url)
    assert "Resolved: merged (from the channel: amount, guest)" in shown.text
    assert 'name="take"' not in shown.text
    again = client.post(f"{url}/resolve", data={"csrf_token": token, "accept": "pms"})
    assert again.status_code == 409
    assert "already resolved" in again.text


def test_keeping_the_pms_version_changes_nothing_but_the_conflict(
    client: TestClient, db: Db, bookings: Bookings
) -> None:
    assert sign_in(client, bookings.emails["owner"]) == 303
    url = f"/admin/conflicts/{bookings.conflict_id}"
    token = token_of(client.get(url).text)
    # Ticked boxes count only for a merge: keeping the PMS's version takes nothing.
    kept = client.post(
        f"{url}/resolve", data={"csrf_token": token, "accept": "pms", "take": ["amount"]}
    )
    assert kept.status_code == 200
    assert "Resolved: the PMS&#39;s version was kept" in kept.text
    with db.sessions() as session:
        conflict = session.get_one(ReservationConflict, bookings.conflict_id)
        assert (conflict.resolution, conflict.resolved_fields) == ("pms", None)
        assert session.get_one(Reservation, bookings.conflicted).total_amount == Decimal("500.00")
    assert (
        f'href="/admin/conflicts/{bookings.conflict_id}"' not in client.get("/admin/conflicts").text
    )
    resolved = client.get("/admin/conflicts", params={"status": "resolved"}).text
    assert f'href="/admin/conflicts/{bookings.conflict_id}">OTA-100</a>' in resolved
