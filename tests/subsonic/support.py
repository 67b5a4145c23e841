"""A Subsonic test client: calls /rest, validates every response against the schema of its profile, and reads
XML and JSON answers through one accessor so tests can be parametrised over `f=xml|json|jsonp`."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import xmlschema
from django.http.response import HttpResponseBase
from django.test import Client
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC = Path(__file__).parent / "spec"
OPENAPI = SPEC / "opensubsonic-openapi"
NS = "{http://subsonic.org/restapi}"
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
DATE_KEYS = {"created", "changed", "starred", "played", "expires", "lastVisited", "validUntil"}


@cache
def strict_xsd() -> xmlschema.XMLSchema10:
    return xmlschema.XMLSchema10(str(SPEC / "subsonic-rest-api.xsd"))


@cache
def open_xsd() -> xmlschema.XMLSchema11:
    return xmlschema.XMLSchema11(str(SPEC / "subsonic-rest-api-1.16.1-open.xsd"))


def _retrieve(uri: str) -> Resource[Any]:
    path = Path(uri.removeprefix("file://"))
    return Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT202012)


@cache
def _registry() -> Registry[Any]:
    return Registry(retrieve=_retrieve)  # type: ignore[call-arg]


@cache
def response_validator(method: str) -> Draft202012Validator:
    """The JSON schema of `method`'s 200 answer, from the OpenAPI description (the generic envelope if the
    endpoint returns no payload)."""
    endpoint_file = OPENAPI / "endpoints" / f"{method}.json"
    if not endpoint_file.exists():  # unknown or unsupported methods: any valid envelope
        generic = (OPENAPI / "schemas" / "SubsonicResponse.json").resolve()
        return Draft202012Validator({"$ref": f"file://{generic}"}, registry=_registry())
    endpoint = json.loads(endpoint_file.read_text())
    operation = endpoint.get("get") or endpoint["post"]
    answer = operation["responses"]["200"]
    base = OPENAPI / "endpoints"
    if "$ref" in answer:
        ref_path = (base / answer["$ref"]).resolve()
        answer = json.loads(ref_path.read_text())
        base = ref_path.parent
    json_answer = answer["content"].get("application/json")
    if json_answer is None:  # binary endpoints: their (error) documents are plain envelopes
        return response_validator("ping")
    if "$ref" not in json_answer["schema"]:
        return _inline_payload_validator(json_answer["schema"], base)
    schema_path = (base / json_answer["schema"]["$ref"]).resolve()
    schema = {"$ref": f"file://{schema_path}"}
    return Draft202012Validator(schema, registry=_registry())


def _inline_payload_validator(payload: dict[str, Any], base: Path) -> Draft202012Validator:
    """Newer endpoints (getTranscodeDecision) describe only the payload, inline, without the subsonic-response
    envelope every answer has: validate the envelope and, on success, the payload inside it."""
    envelope = (OPENAPI / "schemas" / "SubsonicResponse").resolve()
    inline = {"$id": f"file://{base.resolve()}/inline-payload.json", **payload}
    schema = {
        "type": "object",
        "required": ["subsonic-response"],
        "properties": {
            "subsonic-response": {
                "oneOf": [
                    {"allOf": [{"$ref": f"file://{envelope}/SubsonicSuccessResponse.json"}, inline]},
                    {"$ref": f"file://{envelope}/SubsonicFailureResponse.json"},
                ]
            }
        },
    }
    return Draft202012Validator(schema, registry=_registry())


def _walk_dates(value: Any, key: str = "") -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _walk_dates(v, k)
    elif isinstance(value, list):
        for item in value:
            _walk_dates(item, key)
    elif key in DATE_KEYS:
        assert isinstance(value, str), f"{key} must be a string date"
        assert DATE_RE.match(value), f"{key}={value!r} is not an aware UTC date with Z"


def _stringify(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


@dataclass
class Reply:
    method: str
    fmt: str
    response: HttpResponseBase
    body: Any  # the envelope dict (json/jsonp) or the root Element (xml)

    @property
    def status(self) -> str:
        return str(self.body["status"] if self.fmt != "xml" else self.body.get("status"))

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def error_code(self) -> int | None:
        error = self.one("error") if not self.ok else None
        return int(error["code"]) if error else None

    @property
    def error_message(self) -> str:
        return self.one("error")["message"]

    def items(self, *path: str) -> list[dict[str, Any]]:
        """Every element at `path` below the root, as a dict of string attributes (+ `value` for text)."""
        if self.fmt == "xml":
            nodes = [self.body]
            for name in path:
                nodes = [child for node in nodes for child in node.findall(NS + name)]
            result = []
            for node in nodes:
                item: dict[str, Any] = dict(node.attrib)
                if not len(node) and node.text is not None:
                    item["value"] = node.text
                result.append(item)
            return result
        current: list[Any] = [self.body]
        for name in path:
            found: list[Any] = []
            for node in current:
                value = node.get(name) if isinstance(node, dict) else None
                if value is None:
                    continue
                found.extend(value if isinstance(value, list) else [value])
            current = found
        out = []
        for node in current:
            if isinstance(node, dict):
                out.append({k: _stringify(v) for k, v in node.items() if not isinstance(v, (dict, list))})
            else:
                out.append({"value": _stringify(node)})
        return out

    def one(self, *path: str) -> dict[str, Any]:
        found = self.items(*path)
        assert len(found) == 1, f"expected one {'/'.join(path)}, found {len(found)}"
        return found[0]

    def ids(self, *path: str) -> list[str]:
        return [item["id"] for item in self.items(*path)]

    def values(self, *path: str) -> list[str]:
        return [item.get("value", "") for item in self.items(*path)]


class SubsonicClient:
    def __init__(self, django_client: Client, username: str = "", password: str = "") -> None:
        self.client = django_client
        self.username = username
        self.password = password

    def auth_params(self) -> dict[str, str]:
        salt = "c0ffee42"
        token = hashlib.md5((self.password + salt).encode()).hexdigest()
        return {"u": self.username, "t": token, "s": salt}

    def raw(self, method: str, *, http: str = "get", suffix: str = "", **params: Any) -> HttpResponseBase:
        url = f"/rest/{method}{suffix}"
        if http == "post":  # as OpenSubsonic formPost clients send it
            body = urlencode(params, doseq=True)
            return self.client.post(url, body, content_type="application/x-www-form-urlencoded")
        if http == "head":
            return self.client.head(url, params)
        return self.client.get(url, params)

    def call(
        self,
        method: str,
        fmt: str = "xml",
        *,
        auth: bool = True,
        client_name: str = "pytest",
        http: str = "get",
        suffix: str = "",
        validate: bool = True,
        **params: Any,
    ) -> Reply:
        query: dict[str, Any] = {"v": "1.16.1", "c": client_name}
        if fmt != "xml":
            query["f"] = fmt
        if fmt == "jsonp":
            query.setdefault("callback", "cb")
        if auth:
            query.update(self.auth_params())
        query.update({k: v for k, v in params.items() if v is not None})
        response = self.raw(method, http=http, suffix=suffix, **query)
        return parse(method, fmt, response, legacy=client_name == "DSub", validate=validate)


def _xsd_view(content: bytes) -> bytes:
    """The document as the XSD should see it. One deliberate deviation: `playQueue@current` is a song id
    string (OpenSubsonic's correction, and what every client matches against entry ids) where the 1.16.1 schema
    still says int; everything else is validated as sent."""
    return re.sub(rb'(<playQueue\b[^>]*?)\s+current="[^"]*"', rb"\1", content)


def parse(method: str, fmt: str, response: HttpResponseBase, *, legacy: bool = False, validate: bool = True) -> Reply:
    assert response.status_code == 200, response.status_code
    content = response.content  # type: ignore[attr-defined]
    if fmt == "xml":
        assert response["Content-Type"] == "text/xml; charset=utf-8"
        if validate:
            (strict_xsd() if legacy else open_xsd()).validate(_xsd_view(content))
        root = ElementTree.fromstring(content)  # noqa: S314 - our own server's output
        assert root.tag == NS + "subsonic-response"
        return Reply(method, fmt, response, root)
    text = content.decode("utf-8")
    if fmt == "jsonp":
        assert response["Content-Type"].startswith("application/javascript")
        match = re.fullmatch(r"cb\((.*)\);", text, re.S)
        assert match, text[:100]
        text = match.group(1)
    else:
        assert response["Content-Type"].startswith("application/json")
    document = json.loads(text)
    if validate:
        if legacy:  # legacy output has no OpenSubsonic root keys; everything else must still type-check
            document["subsonic-response"].update({"type": "mcma", "serverVersion": "x", "openSubsonic": True})
        errors = sorted(response_validator(method).iter_errors(document), key=str)
        assert not errors, f"{method}: {errors[0].message} at {list(errors[0].absolute_path)}"
        _walk_dates(document)
    return Reply(method, fmt, response, document["subsonic-response"])
