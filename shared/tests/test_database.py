import pytest

from shared.database import normalize_database_url


@pytest.mark.parametrize("url, expected", [
    ("postgresql://u:p@h:5432/db", "postgresql+psycopg2://u:p@h:5432/db"),
    ("postgres://u@h/db", "postgresql+psycopg2://u@h/db"),
    ("postgresql+psycopg2://u@h/db", "postgresql+psycopg2://u@h/db"),
    ("sqlite:////tmp/x.sqlite3", "sqlite:////tmp/x.sqlite3"),
])
def test_bare_postgresql_urls_get_the_installed_driver(url, expected):
    assert normalize_database_url(url) == expected


def test_an_action_commits_when_it_returns_and_leaves_nothing_when_it_raises(tmp_path):
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from shared.database import transaction

    engine = create_engine(f"sqlite:///{tmp_path / 'actions.sqlite3'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (body TEXT)"))

    @transaction
    def add(session, body, fail=False):
        session.execute(text("INSERT INTO notes VALUES (:body)"), {"body": body})
        if body == "outer":
            add(session, "inner")  # joins this transaction: commits nothing by itself
        if fail:
            raise ValueError("refused")
        return body

    with Session(engine) as session:
        assert add(session, "kept") == "kept"
        with pytest.raises(ValueError):
            add(session, "outer", fail=True)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT body FROM notes")).scalars().all() == ["kept"]
    engine.dispose()
