"""The OTA documents the simulator writes: RS answers and the reservation messages it queues.

Built with ``innsync.xmlkit`` (shared XML plumbing, not adapter code) in the OpenTravel 2015A
shapes (§4.1); the tests validate every one of them against the schemas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from innsync.simulators.booking_com.state import Booking, Queue, QueueEntry
from innsync.xmlkit.parsing import Builder, Element, to_bytes

OTA_NAMESPACE = "http://www.opentravel.org/OTA/2003/05"
OTA = Builder(OTA_NAMESPACE)
VERSION = "1.0"
# OTA Error Warning Type (EWT): 3 business rule, 4 authentication, 7 protocol violation.
BUSINESS_RULE, AUTHENTICATION, PROTOCOL = "3", "4", "7"
_QUEUE_DOCUMENTS: dict[Queue, tuple[str, str, str]] = {
    "new": ("OTA_HotelResNotifRQ", "HotelReservations", "HotelReservation"),
    "modify": ("OTA_HotelResModifyNotifRQ", "HotelResModifies", "HotelResModify"),
}
# OTA Error Codes (ERR): 15 invalid date, 402 invalid room type, 249 invalid rate code,
# 497 authorization error, 321 required field missing, 450 unable to process.
ERR_CODES = {
    "NOT_A_VALID_DATE": "15",
    "INVALID_ROOM_OR_RATE": "402",
    "UNAUTHORIZED": "497",
    "ACCESS_DENIED": "497",
    "INVALID_XML": "321",
    "SCHEMA_ERROR": "321",
    "RATE_LIMITED": "450",
    "BATCH_BY_MONTH": "450",
}
RESPONSE_TOKEN_CONTEXT = "ResponseToken"  # noqa: S105 (a label, not a secret)


@dataclass(frozen=True, slots=True)
class Remark:
    """One OTA Error or Warning: Booking.com's label, the text, its type and the message's RPH.

    The OTA ``Code`` attribute takes only OTA ERR codes (``[0-9A-Z]{1,3}``), so Booking.com's
    label (``NOT_A_VALID_DATE``) travels in ``ShortText`` and the code is the nearest ERR one.
    """

    label: str
    text: str
    type: str = BUSINESS_RULE
    rph: int | None = None

    @property
    def code(self) -> str:
        return ERR_CODES.get(self.label, "450")


def answer(
    root_name: str,
    now: datetime,
    *,
    errors: Sequence[Remark] = (),
    warnings: Sequence[Remark] = (),
) -> bytes:
    """An OTA ``…RS``: ``<Errors>`` when there are errors, else ``<Success/>`` and warnings."""
    root = OTA.root(root_name, {"TimeStamp": now.isoformat(timespec="seconds"), "Version": VERSION})
    if errors:
        holder = OTA.sub(root, "Errors")
        for error in errors:
            OTA.sub(
                holder,
                "Error",
                {"Type": error.type, "Code": error.code, "ShortText": error.label},
                error.text,
            )
        return to_bytes(root)
    OTA.sub(root, "Success")
    if warnings:
        holder = OTA.sub(root, "Warnings")
        for warning in warnings:
            OTA.sub(
                holder,
                "Warning",
                {
                    "Type": warning.type,
                    "Code": warning.code,
                    "ShortText": warning.label,
                    "RPH": warning.rph,
                },
                warning.text,
            )
    return to_bytes(root)


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _reservation(parent: Element, name: str, entry: QueueEntry, currency: str) -> None:
    booking: Booking = entry.booking
    item = OTA.sub(
        parent,
        name,
        {
            "ResStatus": booking.status,
            "CreateDateTime": booking.created_at.isoformat(timespec="seconds"),
            "LastModifyDateTime": booking.modified_at.isoformat(timespec="seconds"),
        },
    )
    OTA.sub(item, "UniqueID", {"Type": "14", "ID": booking.reservation_id})
    nights = (booking.departure - booking.arrival).days
    price = Decimal(booking.nightly_price)
    room_total = price * nights
    tax = (room_total * Decimal("0.09")).quantize(Decimal("0.01"))
    city_tax = Decimal("2.50") * nights
    # A cancellation carries the stay it cancels, as the other messages do.
    stay = OTA.sub(OTA.sub(item, "RoomStays"), "RoomStay", {"IndexNumber": "1"})
    OTA.sub(OTA.sub(stay, "RoomTypes"), "RoomType", {"RoomTypeCode": booking.room_id})
    OTA.sub(OTA.sub(stay, "RatePlans"), "RatePlan", {"RatePlanCode": booking.rate_id})
    room_rate = OTA.sub(
        OTA.sub(stay, "RoomRates"),
        "RoomRate",
        {"RoomTypeCode": booking.room_id, "RatePlanCode": booking.rate_id, "NumberOfUnits": 1},
    )
    rates = OTA.sub(room_rate, "Rates")
    for night in range(nights):
        day = booking.arrival + timedelta(days=night)
        rate = OTA.sub(rates, "Rate", {"EffectiveDate": day.isoformat()})
        OTA.sub(rate, "Base", {"AmountAfterTax": _money(price), "CurrencyCode": currency})
    counts = OTA.sub(stay, "GuestCounts")
    OTA.sub(counts, "GuestCount", {"AgeQualifyingCode": "10", "Count": booking.adults})
    for age in booking.children_ages:
        OTA.sub(counts, "GuestCount", {"AgeQualifyingCode": "8", "Count": 1, "Age": age})
    span = (booking.arrival, booking.departure)
    if booking.flaw == "stay_reversed":
        span = span[::-1]
    OTA.sub(stay, "TimeSpan", {"Start": span[0].isoformat(), "End": span[1].isoformat()})
    total = OTA.sub(
        stay,
        "Total",
        {
            "AmountAfterTax": _money(room_total + city_tax),
            "AmountBeforeTax": _money(room_total - tax),
            "CurrencyCode": currency,
        },
    )
    taxes = OTA.sub(total, "Taxes")
    vat = OTA.sub(
        taxes,
        "Tax",
        {"Type": "Inclusive", "Code": "36", "Amount": _money(tax), "CurrencyCode": currency},
    )
    OTA.sub(OTA.sub(vat, "TaxDescription"), "Text", text="VAT")
    city = OTA.sub(
        taxes,
        "Tax",
        {
            "Type": "Exclusive",
            "Code": "3",
            "Amount": _money(city_tax),
            "CurrencyCode": currency,
        },
    )
    OTA.sub(OTA.sub(city, "TaxDescription"), "Text", text="City tax")
    requests = OTA.sub(OTA.sub(stay, "SpecialRequests"), "SpecialRequest")
    OTA.sub(requests, "Text", text="Quiet room, high floor if possible")
    guest = OTA.sub(OTA.sub(item, "ResGuests"), "ResGuest", {"ArrivalTime": "16:00:00"})
    customer = OTA.sub(
        OTA.sub(OTA.sub(OTA.sub(guest, "Profiles"), "ProfileInfo"), "Profile"), "Customer"
    )
    name = OTA.sub(customer, "PersonName")
    OTA.sub(name, "GivenName", text=booking.guest_given)
    OTA.sub(name, "Surname", text=booking.guest_surname)
    OTA.sub(customer, "Telephone", {"PhoneNumber": "+31 20 555 0100"})
    OTA.sub(customer, "Email", text=booking.email)
    address = OTA.sub(customer, "Address")
    OTA.sub(address, "AddressLine", text="1 Sample Street")
    OTA.sub(address, "CityName", text="Amsterdam")
    OTA.sub(address, "PostalCode", text="1000 AA")
    OTA.sub(address, "CountryName", {"Code": booking.country})
    info = OTA.sub(item, "ResGlobalInfo")
    accepted = OTA.sub(
        OTA.sub(OTA.sub(info, "Guarantee"), "GuaranteesAccepted"), "GuaranteeAccepted"
    )
    # Never a card number: only a masked one, as a provider is shown (§3.1 PCI).
    card = OTA.sub(
        accepted,
        "PaymentCard",
        {
            "CardCode": "MC" if booking.is_virtual_card else "VI",
            "ExpireDate": "1233",
            "Remark": "Virtual credit card" if booking.is_virtual_card else None,
        },
    )
    OTA.sub(card, "CardHolderName", text=f"{booking.guest_given} {booking.guest_surname}")
    OTA.sub(card, "CardNumber", {"Mask": "xxxxxxxxxxxx4242"})
    OTA.sub(
        info,
        "Total",
        {
            "AmountAfterTax": _money(room_total + city_tax),
            "AmountBeforeTax": _money(room_total - tax),
            "CurrencyCode": currency,
        },
    )
    ids = OTA.sub(info, "HotelReservationIDs")
    OTA.sub(ids, "HotelReservationID", {"ResID_Type": "14", "ResID_Value": booking.reservation_id})
    if entry.response_token is not None:
        OTA.sub(
            ids,
            "HotelReservationID",
            {
                "ResID_Type": "14",
                "ResID_Value": entry.response_token,
                "ResID_SourceContext": RESPONSE_TOKEN_CONTEXT,
            },
        )
    commissions = OTA.sub(info, "TotalCommissions")
    OTA.sub(
        commissions,
        "CommissionPayableAmount",
        {"Amount": _money(room_total * Decimal("0.15")), "CurrencyCode": currency},
    )
    OTA.sub(info, "BasicPropertyInfo", {"HotelCode": booking.hotel_id})


def queue_document(
    queue: Queue, entries: Sequence[QueueEntry], now: datetime, currency_of: dict[str, str]
) -> bytes:
    """The ``OTA_HotelResNotifRQ`` or ``OTA_HotelResModifyNotifRQ`` a pull answers with."""
    root_name, holder_name, item_name = _QUEUE_DOCUMENTS[queue]
    root = OTA.root(root_name, {"TimeStamp": now.isoformat(timespec="seconds"), "Version": VERSION})
    if entries:
        holder = OTA.sub(root, holder_name)
        for entry in entries:
            _reservation(holder, item_name, entry, currency_of.get(entry.booking.hotel_id, "EUR"))
    return to_bytes(root)
