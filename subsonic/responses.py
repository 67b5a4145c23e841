"""One neutral response tree, three encodings (XML, JSON, JSONP).

A `Node` says explicitly what is an attribute, what is a single child, what is a list of children and what is
text, because XML and JSON disagree on all four: a list with one element is still a JSON array, text content is
JSON `value`, booleans are `true`/`false` in both but numbers are quoted only in XML. Views and builders only ever
construct nodes; the byte-level shape of a response is decided here and nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import orjson
from django.http import HttpResponse

import mcma

Scalar = str | int | float | bool | datetime

NAMESPACE = "http://subsonic.org/restapi"
API_VERSION = "1.16.1"
SERVER_TYPE = "mcma"
XML_CONTENT_TYPE = "text/xml; charset=utf-8"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
JSONP_CONTENT_TYPE = "application/javascript; charset=utf-8"

# Characters XML 1.0 forbids anywhere (tags read from files occasionally carry them) are dropped by the same
# translate table that escapes, so every value is cleaned and escaped in a single pass.
_XML_INVALID: dict[int, None] = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF])
_ATTR_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"} | _XML_INVALID
)
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"} | _XML_INVALID)


class Format(StrEnum):
    XML = "xml"
    JSON = "json"
    JSONP = "jsonp"


class Profile(StrEnum):
    """How much to say, chosen by client name: `legacy` clients choke on OpenSubsonic data (DSub's parser reads
    nested `<artist>` elements as top-level artists), `minimal` ones want songs reduced to id/title."""

    FULL = "full"
    LEGACY = "legacy"
    MINIMAL = "minimal"


def format_datetime(value: datetime) -> str:
    """Aware UTC with a `Z`, to the millisecond; naive values are taken as UTC (Django stores UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    elif value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"


# What a node stores: dates are formatted once, on the way in, so both encoders just copy values.
Stored = str | int | float | bool


def _stored(value: Scalar) -> Stored:
    return format_datetime(value) if isinstance(value, datetime) else value


def _xml_text(value: Stored) -> str:
    if isinstance(value, str):
        return value.translate(_TEXT_ESCAPES)
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


class Node:
    """An element: attributes, then single children / lists of children / lists of text values, then text."""

    __slots__ = ("attrs", "name", "parts", "text")

    def __init__(self, name: str, attrs: Mapping[str, Scalar | None] | None = None, *, text: Scalar | None = None):
        self.name = name
        # Builders pass every attribute in one mapping (in output order): one comprehension per element is what
        # keeps 500-item lists cheap.
        self.attrs: dict[str, Stored] = (
            {
                key: format_datetime(value) if isinstance(value, datetime) else value
                for key, value in attrs.items()
                if value is not None
            }
            if attrs
            else {}
        )
        self.text = _stored(text) if text is not None else None
        # A tuple, grown by copying (a node has a handful of parts at most): leaves, most of a page, share `()`.
        self.parts: tuple[_Part, ...] = ()

    def set(self, key: str, value: Scalar | None) -> None:
        """Set an attribute; None means "unknown" and is omitted (never rendered as null or "")."""
        if value is not None:
            self.attrs[key] = _stored(value)

    def add(self, node: Node) -> Node:
        """A single child: a JSON object under the child's name."""
        self.parts = (*self.parts, (node.name, node, None, None, False))
        return node

    def add_list(self, name: str, nodes: Iterable[Node]) -> list[Node]:
        """Repeated children: a JSON array under `name`, even with zero or one element."""
        items = list(nodes)
        self.parts = (*self.parts, (name, None, items, None, False))
        return items

    def add_values(self, name: str, values: Iterable[Scalar]) -> None:
        """Repeated text elements (`<versions>1</versions>`): a JSON array of scalars."""
        self.parts = (*self.parts, (name, None, None, [_stored(value) for value in values], False))

    def add_text(self, name: str, value: Scalar | None) -> None:
        """One text element (`<musicBrainzId>…</musicBrainzId>`): a bare JSON value. None is omitted."""
        if value is not None:
            self.parts = (*self.parts, (name, None, None, [_stored(value)], True))

    def child(self, name: str) -> Node | None:
        """The single child called `name` (tests and builders reading back a tree)."""
        for part_name, node, _, _, _ in self.parts:
            if part_name == name and node is not None:
                return node
        return None


# A part of a node's content: (name, single child, list of children, text values, values is one bare value).
# Plain tuples: a 500-song page has thousands of parts, and a tuple is the cheapest object to build.
_Part = tuple[str, Node | None, list[Node] | None, list[Stored] | None, bool]


# --------------------------------------------------------------------------------------------------------------
# Encoders
# --------------------------------------------------------------------------------------------------------------
def _write_xml(node: Node, out: list[str], extra_attrs: str = "") -> None:
    attrs = extra_attrs
    for key, value in node.attrs.items():  # inline, not a helper call: this runs for every attribute of a page
        if isinstance(value, str):
            attrs += f' {key}="{value.translate(_ATTR_ESCAPES)}"'
        elif value is True:
            attrs += f' {key}="true"'
        elif value is False:
            attrs += f' {key}="false"'
        else:
            attrs += f' {key}="{value}"'
    if not node.parts and node.text is None:
        out.append(f"<{node.name}{attrs}/>")
        return
    out.append(f"<{node.name}{attrs}>")
    for name, child, children, values, _ in node.parts:
        if child is not None:
            _write_xml(child, out)
        elif children is not None:
            for item in children:
                _write_xml(item, out)
        elif values is not None:
            for value in values:
                out.append(f"<{name}>{_xml_text(value)}</{name}>")
    if node.text is not None:
        out.append(_xml_text(node.text))
    out.append(f"</{node.name}>")


def to_xml(root: Node) -> bytes:
    out: list[str] = ['<?xml version="1.0" encoding="UTF-8"?>\n']
    _write_xml(root, out, f' xmlns="{NAMESPACE}"')
    return "".join(out).encode("utf-8")


def _to_dict(node: Node) -> dict[str, object]:
    if not node.parts and node.text is None:
        return node.attrs  # type: ignore[return-value]  # leaves (most elements) are encoded as they are
    data: dict[str, object] = dict(node.attrs)
    for name, child, children, values, single in node.parts:
        if child is not None:
            data[name] = _to_dict(child)
        elif children is not None:
            data[name] = [_to_dict(item) for item in children]
        elif values is not None:
            data[name] = values[0] if single else values
    if node.text is not None:
        data["value"] = node.text
    return data


def to_json(root: Node) -> bytes:
    """The document as compact UTF-8 JSON (orjson: a 500-song page is the largest answer players page through)."""
    return orjson.dumps({root.name: _to_dict(root)})


# JSONP callbacks are reflected into a script: only a dotted JavaScript identifier is accepted.
_CALLBACK = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$")


def callback_is_valid(callback: str) -> bool:
    return len(callback) <= 200 and _CALLBACK.match(callback) is not None


# --------------------------------------------------------------------------------------------------------------
# Envelope
# --------------------------------------------------------------------------------------------------------------
def envelope(*, ok: bool, profile: Profile) -> Node:
    """The `subsonic-response` root. OpenSubsonic attributes are left out for legacy clients, whose official
    schema has no place for them (and DSub decides its server mode from `type`)."""
    root = Node("subsonic-response", {"status": "ok" if ok else "failed", "version": API_VERSION})
    if profile is not Profile.LEGACY:
        root.set("type", SERVER_TYPE)
        root.set("serverVersion", mcma.__version__)
        root.set("openSubsonic", True)
    return root


@dataclass(frozen=True, slots=True)
class Rendering:
    fmt: Format
    profile: Profile
    callback: str = ""


def render(root: Node, rendering: Rendering) -> HttpResponse:
    """Encode a complete `subsonic-response` tree. Always HTTP 200: Subsonic errors live in the document."""
    if rendering.fmt is Format.JSON:
        return HttpResponse(to_json(root), content_type=JSON_CONTENT_TYPE)
    if rendering.fmt is Format.JSONP:
        body = b"%s(%s);" % (rendering.callback.encode("ascii"), to_json(root))
        return HttpResponse(body, content_type=JSONP_CONTENT_TYPE)
    return HttpResponse(to_xml(root), content_type=XML_CONTENT_TYPE)
