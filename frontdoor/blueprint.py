"""The Blueprint every API module uses: flask-smorest's, with a stricter JSON body parser."""
from __future__ import annotations

from typing import NoReturn

import flask
import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from . import safe_json
from .errors import invalid


class StrictJsonParser(FlaskParser):
    """A JSON body sent with another Content-Type is an error, not an empty body ("text: Missing data"). No body at
    all is no body, whatever the Content-Type: a required one is then reported missing, an optional one (a
    body-less POST such as rotate-secret) takes its defaults."""

    def _raw_load_json(self, req: flask.Request):
        if not req.get_data(cache=True):
            return core.missing
        if not is_json_request(req):
            raise invalid("Content-Type must be application/json")
        return safe_json.loads(req.get_data(cache=True))  # depth- and surrogate-checked: a 400, never a 500

    def _handle_invalid_json_error(self, error, req, *args, **kwargs) -> NoReturn:
        # Plain syntax errors keep webargs' wording; a refused depth, encoding or surrogate says which.
        raise invalid(f"Invalid JSON body: {error.msg}" if isinstance(error, safe_json.UnsafeJson)
                      else "Invalid JSON body.")


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictJsonParser()
