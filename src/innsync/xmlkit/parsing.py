"""Parse received XML with a hardened lxml parser; build sent XML with namespace-aware helpers.

What arrives may come from anyone (a channel, a simulator's client), so the parser resolves no
entity, loads no DTD, reaches no network and refuses a body past a size cap before reading it.
A document type declaration is refused outright: no OTA, EQC or YCS message carries one, and
refusing it shuts out entity expansion whatever a future parser version does by default.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from lxml import etree

# SiteMinder's pmsXchange caps OTA messages at 2 MB (ota-direct-and-standards.md §4.1); a
# reservation batch or a year of ARI stays well under 8 MB, and anything bigger is refused
# before it is parsed so one body cannot take a worker's memory.
DEFAULT_MAX_XML_BYTES = 8 * 1024 * 1024
# The start of a document a declaration must appear in (after the XML declaration, comments).
_PROLOGUE_BYTES = 4096

Element = Any
"""An lxml element (lxml ships no type hints; this names what the functions pass around)."""


class XmlRefusedError(ValueError):
    """The bytes are not an XML document innsync will read: too big, a DTD, or malformed."""


def _parser() -> Any:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(content: bytes, *, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> Element:
    """The root element of ``content``; :class:`XmlRefusedError` says why it was refused."""
    if len(content) > max_bytes:
        raise XmlRefusedError(f"the XML body has {len(content)} bytes; at most {max_bytes}")
    upper = content.upper()
    if b"<!DOCTYPE" in upper[:_PROLOGUE_BYTES] or b"<!ENTITY" in upper:
        raise XmlRefusedError("an XML body with a DOCTYPE or ENTITY declaration is refused")
    if not content.strip():
        raise XmlRefusedError("the XML body is empty")
    try:
        root = etree.fromstring(content, _parser())
    except etree.XMLSyntaxError as exc:
        # The parser's message names a line and column, never the document's content.
        raise XmlRefusedError(f"malformed XML: {exc.msg}") from exc
    if root is None:
        raise XmlRefusedError("the XML body has no root element")
    return root


def local_name(element: Element) -> str:
    """The element's name without its namespace (``OTA_HotelAvailNotifRQ``)."""
    return str(etree.QName(element).localname)


def namespace_of(element: Element) -> str | None:
    """The element's namespace URI, or ``None``."""
    namespace = etree.QName(element).namespace
    return None if namespace is None else str(namespace)


def children(element: Element, name: str) -> Iterator[Element]:
    """The direct children called ``name`` (any namespace: channels vary in prefixes)."""
    for child in element:
        if isinstance(child.tag, str) and local_name(child) == name:
            yield child


def child(element: Element, name: str) -> Element | None:
    """The first direct child called ``name``, or ``None``."""
    return next(children(element, name), None)


def path(element: Element, *names: str) -> Iterator[Element]:
    """Every element reached by following ``names`` child by child."""
    if not names:
        yield element
        return
    for found in children(element, names[0]):
        yield from path(found, *names[1:])


def first(element: Element, *names: str) -> Element | None:
    """The first element reached by ``names``, or ``None``."""
    return next(path(element, *names), None)


def text_of(element: Element | None) -> str | None:
    """The element's stripped text, ``None`` when missing or blank."""
    if element is None or element.text is None:
        return None
    stripped = str(element.text).strip()
    return stripped or None


def attribute(element: Element | None, name: str) -> str | None:
    """An attribute's value, ``None`` when the element or the attribute is missing."""
    if element is None:
        return None
    value = element.get(name)
    return None if value is None else str(value)


class Builder:
    """Builds elements in one default namespace, leaving out attributes whose value is ``None``.

    ``namespace=None`` builds plain, unqualified elements (Agoda's YCS XML has no namespace).
    """

    def __init__(self, namespace: str | None) -> None:
        self.namespace = namespace

    def root(self, name: str, attributes: Mapping[str, object | None] | None = None) -> Element:
        nsmap = None if self.namespace is None else {None: self.namespace}
        element = etree.Element(self._tag(name), nsmap=nsmap)
        self._set(element, attributes)
        return element

    def sub(
        self,
        parent: Element,
        name: str,
        attributes: Mapping[str, object | None] | None = None,
        text: str | None = None,
    ) -> Element:
        element = etree.SubElement(parent, self._tag(name))
        self._set(element, attributes)
        if text is not None:
            element.text = text
        return element

    def _tag(self, name: str) -> str:
        return name if self.namespace is None else f"{{{self.namespace}}}{name}"

    @staticmethod
    def _set(element: Element, attributes: Mapping[str, object | None] | None) -> None:
        for key, value in (attributes or {}).items():
            if value is not None:
                element.set(key, _attribute_text(value))


def _attribute_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_bytes(root: Element) -> bytes:
    """The document as UTF-8 bytes with an XML declaration (what every XML channel takes).

    Namespace declarations repeated on elements built apart and appended are dropped first.
    """
    etree.cleanup_namespaces(root)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
