from tests.deploy.images import ensure_all

ensure_all()
