"""What an uploaded file is, judged from its bytes (never from its name or the client's
Content-Type); for images, the copy without metadata that is kept and a thumbnail; for
avatars, a small square picture drawn again from the pixels alone.

Only JPEG, PNG, GIF and WebP that Pillow decodes are images (shown inline). Anything
else, including a file whose bytes only claim to be an image, is a file: always served
as a download, and as application/octet-stream unless its bytes say a harmless type.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import filetype
from PIL import Image, ImageOps

from ..storage import DirectoryStorage

IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
# Decoding costs memory per pixel: larger pictures are kept as files, not decoded.
MAX_IMAGE_PIXELS = 40_000_000
THUMBNAIL_SIZE = (320, 320)
AVATAR_SIZE = (256, 256)
THUMBNAIL_TYPE = AVATAR_TYPE = "image/webp"
DOWNLOAD_TYPE = "application/octet-stream"
# Types a browser could render or run; the sniffer recognises binary formats only, but a
# file is never labelled with one of these whatever a library says.
ACTIVE_TYPES = ("text/", "image/svg", "application/xhtml", "application/xml", "application/javascript",
                "application/ecmascript")
SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Content:
    kind: str  # "image" or "file"
    content_type: str
    storage_key: str
    size: int
    thumbnail_key: str | None = None
    width: int | None = None
    height: int | None = None


def examine(storage: DirectoryStorage, key: str, size: int) -> Content:
    """What the stored file `key` is. An image is stored again without its metadata
    (the original is deleted) and gets a thumbnail; the keys in the result are the ones to keep."""
    with storage.open(key) as stored:
        head = stored.read(SNIFF_BYTES)
    sniffed = filetype.guess_mime(head) or DOWNLOAD_TYPE
    if sniffed in IMAGE_FORMATS.values():
        image = _clean_image(storage, key)
        if image is not None:
            storage.delete(key)
            return image
        sniffed = DOWNLOAD_TYPE  # looks like an image, is not one
    if sniffed.startswith(ACTIVE_TYPES):
        sniffed = DOWNLOAD_TYPE
    return Content("file", sniffed, key, size)


def _clean_image(storage: DirectoryStorage, key: str) -> Content | None:
    try:
        with storage.open(key) as stored, Image.open(stored, formats=list(IMAGE_FORMATS)) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                return None
            image.load()
            cleaned, width, height = _without_metadata(image)
            thumbnail = _thumbnail(image)
            content_type = IMAGE_FORMATS[image.format]
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        return None  # truncated, corrupt or hostile: not an image we show
    clean_key, size = storage.save_stream([cleaned])
    try:
        thumbnail_key, _ = storage.save_stream([thumbnail])
    except BaseException:
        storage.delete(clean_key)
        raise
    return Content("image", content_type, clean_key, size, thumbnail_key, width, height)


def _without_metadata(image: Image.Image) -> tuple[bytes, int, int]:
    """The image encoded again in its own format with no EXIF, XMP or comments (the
    writers copy some of these from the source unless told otherwise). A still image
    is first turned the way its EXIF orientation says, since that tag goes too."""
    out = io.BytesIO()
    options: dict = {"exif": b"", "xmp": b"", "comment": b""}
    if image.format == "JPEG":
        options["quality"] = 90
    if getattr(image, "is_animated", False):
        image.save(out, format=image.format, save_all=True, **options)
        return out.getvalue(), image.width, image.height
    upright = ImageOps.exif_transpose(image)
    upright.info.clear()
    upright.save(out, format=image.format, **options)
    return out.getvalue(), upright.width, upright.height


def avatar(storage: DirectoryStorage, key: str) -> str | None:
    """The stored upload `key` as an avatar: the key of a new AVATAR_SIZE square WebP (the
    middle of the picture, upright, first frame, no metadata), or None when its bytes are not
    an image decoded here. The upload itself stays for the caller to delete."""
    try:
        with storage.open(key) as stored, Image.open(stored, formats=list(IMAGE_FORMATS)) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                return None
            image.load()
            square = _webp(ImageOps.fit(_upright_pixels(image), AVATAR_SIZE))
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        return None
    return storage.save_stream([square])[0]


def _thumbnail(image: Image.Image) -> bytes:
    small = _upright_pixels(image)
    small.thumbnail(THUMBNAIL_SIZE)
    return _webp(small)


def _upright_pixels(image: Image.Image) -> Image.Image:
    """The first frame, turned as its EXIF says, as plain pixels (with alpha if it has any)."""
    image.seek(0)
    upright = ImageOps.exif_transpose(image)
    return upright.convert("RGBA" if upright.mode in ("RGBA", "LA", "P", "PA") else "RGB")


def _webp(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="WEBP", quality=80)
    return out.getvalue()
