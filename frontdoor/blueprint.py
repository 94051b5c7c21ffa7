"""The Blueprint every API module uses: flask-smorest's, with a stricter JSON body parser."""
from __future__ import annotations

import flask
import flask_smorest
from webargs.flaskparser import FlaskParser, is_json_request

from .errors import invalid


class StrictJsonParser(FlaskParser):
    """A JSON body sent with another Content-Type is an error, not an empty body ("text: Missing data")."""

    def _raw_load_json(self, req: flask.Request):
        if not is_json_request(req):
            raise invalid("Content-Type must be application/json")
        return super()._raw_load_json(req)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictJsonParser()
