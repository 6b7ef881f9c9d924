"""/api/me/data: what chat holds of the caller, as one JSON document."""

from __future__ import annotations

from flask import jsonify

from .. import db
from ..services import account_data
from . import api, current_user_id


@api.get("/me/data")
def my_data():
    return jsonify(account_data.export(db.session(), current_user_id()))
