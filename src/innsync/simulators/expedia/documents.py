"""EQC XML as the simulator reads and writes it: namespaces, error answers, booking messages.

Element and attribute names follow Expedia's published AR/BR/BC examples (§3.2).
"""

from __future__ import annotations

from decimal import Decimal

from innsync.simulators.expedia.state import Booking, Transaction
from innsync.xmlkit.parsing import Builder, Element, to_bytes

AR_RQ_NAMESPACES = (
    "http://www.expediaconnect.com/EQC/AR/2011/06",
    "http://www.expediaconnect.com/EQC/AR/2007/02",
)
AR_RS_NAMESPACE = "http://www.expediaconnect.com/EQC/AR/2007/02"
BR_NAMESPACES = (
    "http://www.expediaconnect.com/EQC/BR/2014/01",
    "http://www.expediaconnect.com/EQC/BR/2007/02",
)
# PARR samples: the current namespace; 2011/06 is still taken (FAQ "inactive products").
PAR_NAMESPACES = (
    "http://www.expediaconnect.com/EQC/PAR/2013/07",
    "http://www.expediaconnect.com/EQC/PAR/2011/06",
)
BC_RQ_NAMESPACE = "http://www.expediaconnect.com/EQC/BC/2007/09"
BC_RS_NAMESPACE = "http://www.expediaconnect.com/EQC/BC/2007/08"


class EqcError(Exception):
    """An EQC ``<Error code="…">`` answer: the whole message is refused."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text


def error_answer(root_name: str, namespace: str, error: EqcError) -> bytes:
    builder = Builder(namespace)
    root = builder.root(root_name)
    builder.sub(root, "Error", {"code": error.code}, error.text)
    return to_bytes(root)


def success_answer(root_name: str, namespace: str, warnings: list[tuple[int, str]]) -> bytes:
    builder = Builder(namespace)
    root = builder.root(root_name)
    success = builder.sub(root, "Success")
    for code, text in warnings:
        builder.sub(success, "Warning", {"code": code}, text)
    return to_bytes(root)


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def booking_element(
    builder: Builder, parent: Element, booking: Booking, transaction: Transaction, status: str
) -> None:
    """One ``Booking`` as the BR examples show it; a Cancel carries ids 0 and zero rates."""
    first = booking.transactions[0]
    attributes: dict[str, object | None] = {
        "id": booking.booking_id,
        "type": transaction.kind,
        "createDateTime": transaction.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": booking.source,
        "status": status,
        # BR definition: a Modify/Cancel carries the confirmation number of the reservation.
        "confirmNumber": (
            transaction.confirm_number if transaction.kind == "Book" else first.confirm_number
        ),
    }
    element = builder.sub(parent, "Booking", attributes)
    builder.sub(element, "Hotel", {"id": booking.hotel_id})
    stay = transaction.stay
    is_cancel = transaction.kind == "Cancel"
    room_stay = builder.sub(
        element,
        "RoomStay",
        {
            "roomTypeID": "0" if is_cancel else stay.room_id,
            "ratePlanID": "0" if is_cancel else stay.rate_id,
        },
    )
    builder.sub(
        room_stay,
        "StayDate",
        {"arrival": stay.arrival.isoformat(), "departure": stay.departure.isoformat()},
    )
    count = builder.sub(
        room_stay,
        "GuestCount",
        {"adult": stay.adults, "child": len(stay.child_ages) or None},
    )
    for age in stay.child_ages:
        builder.sub(count, "Child", {"age": age})
    nights = (stay.departure - stay.arrival).days
    rate = Decimal("0") if is_cancel else Decimal(stay.nightly_rate)
    rates = builder.sub(
        room_stay, "PerDayRates", None if is_cancel else {"currency": stay.currency}
    )
    for night in range(nights):
        day = stay.arrival.toordinal() + night
        builder.sub(
            rates,
            "PerDayRate",
            {"stayDate": type(stay.arrival).fromordinal(day).isoformat(), "baseRate": _money(rate)},
        )
    before_tax = rate * nights
    taxes = (before_tax * Decimal("0.1")).quantize(Decimal("0.01"))
    builder.sub(
        room_stay,
        "Total",
        {
            "amountAfterTaxes": _money(before_tax + taxes),
            "amountOfTaxes": _money(taxes),
            "currency": None if is_cancel else stay.currency,
        },
    )
    guest = builder.sub(element, "PrimaryGuest")
    builder.sub(guest, "Name", {"givenName": booking.given_name, "surname": booking.surname})
    if not is_cancel:
        builder.sub(
            guest,
            "Phone",
            {"countryCode": "1", "cityAreaCode": "514", "number": booking.phone},
        )
        builder.sub(element, "SpecialRequest", {"code": "2.1"}, "Non-smoking")
