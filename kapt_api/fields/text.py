"""Text fields: what a person types, refused when the database could not keep it
exactly (control characters, lone surrogates) or when it is not the shape asked for
(an email address, an E.164 phone number, an http URL, one word of a list). FreeText
and FreeTextOut mark what a person writes about a patient or a session."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import marshmallow as ma

from kapt_api.fields.metadata import openapi_metadata

# Characters no text field accepts: the C0 controls except tab, newline and carriage
# return, DEL and the C1 controls (PostgreSQL refuses NUL outright; the others belong in
# no name, reason or note).
_CONTROL_CLASS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# Lone UTF-16 surrogates: JSON can write one ("\ud800") and Python decodes it, but it is
# half a character, which UTF-8 cannot encode, so neither driver (psycopg, sqlite3) can
# send it to the database: it failed as a 500. The published patterns leave them
# out: a lone surrogate is not a Unicode scalar value, so a JSON Schema regex cannot name
# one (RFC 8259 §8.2 calls such strings unpredictable), and text in any other language
# cannot hold one. Noncharacters such as U+FFFE and U+FDD0 are accepted: they are scalar
# values that UTF-8 encodes, both engines store and return them unchanged, and Unicode
# allows them in interchange (Corrigendum 9).
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# The whitespace stripped from both ends of a text: exactly what ECMAScript's \s means,
# written out, so the patterns in the OpenAPI document and this code agree on "blank".
_SPACE_CLASS = r"\t\n\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
SPACES = (
    "\t\n\r \u00a0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000\ufeff")
)
_CONTROL = re.compile(f"[{_CONTROL_CLASS}]")
ANY_TEXT = f"^[^{_CONTROL_CLASS}]*$"
NON_BLANK_TEXT = f"^[^{_CONTROL_CLASS}]*[^{_CONTROL_CLASS}{_SPACE_CLASS}][^{_CONTROL_CLASS}]*$"
_WORD = f"[^@{_CONTROL_CLASS}{_SPACE_CLASS}]"
_EMAIL = re.compile(f"^{_WORD}{{1,64}}@{_WORD}+\\.{_WORD}+$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_PORT = "(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_HTTP_URL = re.compile(
    f"^https?://[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:{_PORT})?(/[\\x21-\\x7e]*)?$"
)


def _padded(pattern: str) -> str:
    """An anchored pattern that also allows the whitespace Text strips from both ends."""
    return f"^[{_SPACE_CLASS}]*{pattern[1:-1]}[{_SPACE_CLASS}]*$"


def refuse_unstorable(text: str, *, controls: bool = True) -> None:
    """Raise if `text` holds a lone surrogate (or, with `controls`, a control character)."""
    if controls and _CONTROL.search(text):
        raise ma.ValidationError("Must not contain control characters.")
    if _SURROGATE.search(text):
        raise ma.ValidationError(
            "Must not contain a lone surrogate (U+D800 to U+DFFF): send whole characters."
        )


class Text(ma.fields.String):
    """A string with a length limit, no control characters (PostgreSQL refuses NUL) and no
    lone surrogates (UTF-8 cannot encode them).

    Surrounding whitespace is stripped (with `strip`, the default); the length limits
    count the characters as sent. With `min_length` above 0 a blank text is refused.
    The OpenAPI document publishes the same limits as minLength, maxLength and pattern.
    """

    def __init__(
        self,
        *,
        max_length: int = 200,
        min_length: int = 0,
        strip: bool = True,
        pattern: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.strip = strip
        self.length = ma.validate.Length(min=min_length, max=max_length)
        self.non_blank = min_length > 0
        if pattern is None:
            pattern = NON_BLANK_TEXT if self.non_blank else ANY_TEXT
        limits = {"maxLength": max_length, "pattern": pattern}
        if min_length:
            limits["minLength"] = min_length
        super().__init__(**openapi_metadata(kwargs, **limits))

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        refuse_unstorable(text)
        self.length(text)
        stripped = text.strip(SPACES)
        if self.non_blank and not stripped:
            raise ma.ValidationError("Must not be blank.")
        return stripped if self.strip else text


class Password(ma.fields.String):
    """A password exactly as typed: never stripped, any character UTF-8 can encode (it is
    hashed, never stored as text), so only lone surrogates are refused."""

    def __init__(self, *, min_length: int, max_length: int, **kwargs: Any) -> None:
        self.length = ma.validate.Length(
            min=min_length, max=max_length, error="Use between {min} and {max} characters."
        )
        super().__init__(**openapi_metadata(kwargs, minLength=min_length, maxLength=max_length))

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        refuse_unstorable(text, controls=False)
        self.length(text)
        return text


class Choice(ma.fields.String):
    """One word of a fixed list, exactly as written: no trimming, no case folding."""

    def __init__(self, choices: Iterable[str], *, error: str | None = None, **kwargs: Any) -> None:
        self.choices = tuple(choices)
        self.error = error or "Must be one of: {choices}."
        enum: list[str | None] = list(self.choices)
        if kwargs.get("allow_none"):
            enum.append(None)
        super().__init__(**openapi_metadata(kwargs, enum=enum))

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or value not in self.choices:
            raise ma.ValidationError(self.error.format(choices=", ".join(self.choices)))
        return value


# The OpenAPI extension naming a free-text field: what a person writes about a patient
# or a session (a reason, a note). Only the patient's care team and administrators are
# shown it, and less where a domain's policy says so; everyone else sees at most a
# category. tests/test_free_text.py finds these fields by it.
FREE_TEXT = "x-free-text"


class FreeText(Text):
    """Text a person writes about a patient or a session: a reason, a note."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**openapi_metadata(kwargs, **{FREE_TEXT: True}))


class FreeTextOut(ma.fields.String):
    """A FreeText in an answer: only in the Out schemas of those who may read it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**openapi_metadata(kwargs, **{FREE_TEXT: True}))


class SameRecord(ma.fields.Nested):
    """A nested view of the object itself: the fields shown together live on its row."""

    def get_value(
        self, obj: Any, attr: str, accessor: Any = None, default: Any = ma.missing
    ) -> Any:
        return obj


class Email(Text):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_length=254,
            min_length=3,
            pattern=_padded(_EMAIL.pattern),
            **openapi_metadata(kwargs, example="front.desk@clinic.example"),
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not _EMAIL.fullmatch(text.strip(SPACES)):
            raise ma.ValidationError("Not a valid email address.")
        return text.lower()


class Phone(Text):
    """Phone number in E.164 form, for example +15551234567."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_length=16,
            pattern=_padded(_E164.pattern),
            **openapi_metadata(kwargs, example="+15551234567"),
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not _E164.fullmatch(text.strip(SPACES)):
            raise ma.ValidationError(
                "Use E.164 form: + then country code and number, e.g. +15551234567."
            )
        return text


class HttpUrl(Text):
    """An http or https URL: a host name (no credentials), an optional port and path."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_length=2000,
            strip=False,
            pattern=_HTTP_URL.pattern,
            **openapi_metadata(kwargs, example="https://hooks.clinic.example/kapt"),
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not _HTTP_URL.fullmatch(text):
            raise ma.ValidationError(
                "Use an http or https URL, e.g. https://hooks.clinic.example/kapt."
            )
        return text
