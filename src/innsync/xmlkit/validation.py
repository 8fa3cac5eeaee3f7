"""Validate XML documents against a folder of XSDs, the schema picked by the root's name.

The OpenTravel 2015A schemas innsync speaks (Booking.com's OTA messages) ship in
``opentravel_2015a/`` beside this module, so a clean checkout validates without anything from
outside the repository. A schema is compiled once per process (the common types are 2 MB of
XSD; compiling takes about a second) and reused.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from innsync.xmlkit.parsing import Element, XmlRefusedError, local_name, parse_xml

OPENTRAVEL_2015A = Path(__file__).with_name("opentravel_2015a")
# Errors listed per invalid document: enough to fix it, short enough for a log line or a 400.
MAX_LISTED_ERRORS = 10


class SchemaInvalidError(ValueError):
    """The document does not validate; ``errors`` lists what the validator said."""

    def __init__(self, root_name: str, errors: list[str]) -> None:
        super().__init__(f"{root_name} is not schema-valid: {'; '.join(errors)}")
        self.root_name = root_name
        self.errors = errors


class SchemaFolder:
    """The XSDs of one folder, ``<root element name>.xsd`` each, compiled on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._compiled: dict[str, Any] = {}

    def has_schema_for(self, root_name: str) -> bool:
        return (self.folder / f"{root_name}.xsd").is_file()

    def schema(self, root_name: str) -> Any:
        """The compiled schema for documents whose root is ``root_name``."""
        with self._lock:
            found = self._compiled.get(root_name)
            if found is None:
                source = self.folder / f"{root_name}.xsd"
                if not source.is_file():
                    raise KeyError(f"no schema for {root_name} in {self.folder.name}")
                # Includes resolve next to the file; no network, no entities, as for any XML.
                parser = etree.XMLParser(resolve_entities=False, no_network=True)
                found = etree.XMLSchema(etree.parse(str(source), parser))
                self._compiled[root_name] = found
            return found

    def errors(self, document: Element) -> list[str]:
        """What is wrong with ``document`` (empty when it is valid)."""
        schema = self.schema(local_name(document))
        if schema.validate(document):
            return []
        return [
            f"line {error.line}: {error.message}"
            for error in list(schema.error_log)[:MAX_LISTED_ERRORS]
        ]

    def validate(self, document: Element) -> None:
        """Raise :class:`SchemaInvalidError` unless ``document`` is valid."""
        found = self.errors(document)
        if found:
            raise SchemaInvalidError(local_name(document), found)

    def validate_bytes(self, content: bytes) -> Element:
        """Parse (hardened) and validate; the root element when both succeed."""
        root = parse_xml(content)
        self.validate(root)
        return root


@cache
def opentravel_2015a() -> SchemaFolder:
    """The OpenTravel 2015A schemas of the messages innsync sends and reads."""
    return SchemaFolder(OPENTRAVEL_2015A)


__all__ = [
    "OPENTRAVEL_2015A",
    "SchemaFolder",
    "SchemaInvalidError",
    "XmlRefusedError",
    "opentravel_2015a",
]
