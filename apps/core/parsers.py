"""The API's JSON parser: every DRF view reads JSON bodies through apps/core/jsonbody.py."""

from typing import Any

from rest_framework import exceptions, parsers

from apps.core.jsonbody import JsonBodyError, json_parse


def json_error(exc: JsonBodyError) -> exceptions.APIException:
    """A body that is not JSON at all is a parse error; a bad value is a 400 naming its field."""
    if exc.field == "body":
        return exceptions.ParseError(exc.message[:1].upper() + exc.message[1:] + ".")
    return exceptions.ValidationError({exc.field: [exc.message]})


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        try:
            return json_parse(stream.read())
        except JsonBodyError as exc:
            raise json_error(exc) from None
