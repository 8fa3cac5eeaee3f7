"""The shared XML kit: hardened parsing, building and OpenTravel 2015A validation."""

from __future__ import annotations

import pytest

from innsync.xmlkit.parsing import Builder, XmlRefusedError, parse_xml, to_bytes
from innsync.xmlkit.validation import SchemaInvalidError, opentravel_2015a

OTA = "http://www.opentravel.org/OTA/2003/05"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<lolz>&lol2;</lolz>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"""
ENTITY_WITHOUT_DOCTYPE_PREFIX = b"<r><!ENTITY x 'y'></r>"


@pytest.mark.parametrize(
    "body", [BILLION_LAUGHS, EXTERNAL_ENTITY, ENTITY_WITHOUT_DOCTYPE_PREFIX], ids=str
)
def test_entities_and_doctypes_are_refused_before_parsing(body: bytes) -> None:
    with pytest.raises(XmlRefusedError, match="DOCTYPE or ENTITY"):
        parse_xml(body)


def test_oversized_empty_and_malformed_bodies_are_refused() -> None:
    with pytest.raises(XmlRefusedError, match="at most 10"):
        parse_xml(b"<r>0123456789</r>", max_bytes=10)
    with pytest.raises(XmlRefusedError, match="empty"):
        parse_xml(b"  ")
    with pytest.raises(XmlRefusedError, match="malformed"):
        parse_xml(b"<r><unclosed></r>")


def test_built_documents_declare_the_namespace_once_and_leave_out_none() -> None:
    builder = Builder(OTA)
    root = builder.root("OTA_HotelAvailNotifRS", {"Version": "1.0", "EchoToken": None})
    builder.sub(root, "Success")
    body = to_bytes(root)
    assert body.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert body.count(b"xmlns=") == 1
    assert b"EchoToken" not in body
    assert opentravel_2015a().errors(parse_xml(body)) == []


def test_an_invalid_document_names_what_is_wrong() -> None:
    builder = Builder(OTA)
    root = builder.root("OTA_HotelAvailNotifRS")  # Version is required, Success missing
    with pytest.raises(SchemaInvalidError) as raised:
        opentravel_2015a().validate(root)
    assert raised.value.root_name == "OTA_HotelAvailNotifRS"
    assert any("Version" in error for error in raised.value.errors)


def test_the_schemas_ship_with_the_package_for_every_message_innsync_speaks() -> None:
    schemas = opentravel_2015a()
    for name in (
        "OTA_HotelAvailNotifRQ",
        "OTA_HotelAvailNotifRS",
        "OTA_HotelRateAmountNotifRQ",
        "OTA_HotelRateAmountNotifRS",
        "OTA_HotelResNotifRQ",
        "OTA_HotelResNotifRS",
        "OTA_HotelResModifyNotifRQ",
        "OTA_HotelResModifyNotifRS",
    ):
        assert schemas.has_schema_for(name)
        assert schemas.schema(name) is schemas.schema(name)  # compiled once
