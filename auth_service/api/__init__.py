"""HTTP blueprints: parse and validate input, call a service, serialize."""

from flask import Flask

from .account import bp as account_bp
from .auth import bp as auth_bp
from .health import bp as health_bp
from .users import bp as users_bp


def register_blueprints(app: Flask) -> None:
    app.register_blueprint(auth_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(users_bp)
    app.register_blueprint(health_bp)
