"""Where attachment bytes live: a directory, behind the small interface the rest of
chat_service uses (save a stream, open, delete, path), so another backend (an object
store) can replace it without touching the actions.

Stored files get random names (`key`); a user's file name is metadata only and never
reaches the file system. Every chat instance (and, for X-Accel-Redirect, the gateway)
must see the same directory: a shared volume in docker-compose.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import BinaryIO, Iterable

KEY_BYTES = 16


class DirectoryStorage:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def save_stream(self, chunks: Iterable[bytes]) -> tuple[str, int]:
        """Write `chunks` to a new file; its key and size. A file is visible under its key
        only once complete: if `chunks` raises (too large, client gone) nothing is left."""
        key = secrets.token_hex(KEY_BYTES)
        partial = self.root / f"{key}.part"
        size = 0
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            with open(partial, "xb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    size += len(chunk)
            os.replace(partial, self.path(key))
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return key, size

    def open(self, key: str) -> BinaryIO:
        return open(self.path(key), "rb")

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def path(self, key: str) -> Path:
        """The file of `key`, relative to `root` as `key` itself (the gateway's internal
        location maps that directory, see gateway/nginx.conf.template)."""
        if not key.isalnum():  # keys are ours (hex), never a user's text
            raise ValueError("not a storage key")
        return self.root / key
