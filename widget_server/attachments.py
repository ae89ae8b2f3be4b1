"""Files on tickets: what is accepted (decided by the bytes), how it is cleaned, where it is kept.

Accepted, whatever a file is called or claims to be:

    PNG, JPEG, GIF, WebP  verified and decoded by Pillow, then re-encoded from the pixels alone
                          (EXIF with GPS position, comments, ICC profiles, trailing bytes and
                          anything smuggled in them are dropped; an animated image keeps its
                          first frame; GIF comes out as PNG). Only the re-encoded bytes are kept.
                          Images over IMAGE_MAX_PIXELS are refused before decoding (no
                          decompression bombs).
    PDF                   a `%PDF-` header; kept as sent, always served as a download
    plain text            valid UTF-8 without NUL or other control characters (tab, line
                          and page breaks aside), and not markup a browser would sniff as
                          HTML or XML (so an .html or .svg renamed .txt or .png is refused)

Everything else (archives included: there is no zip bomb to defuse, because nothing is ever
unpacked) is refused with UnsupportedMediaType (415) naming the allowed types. An empty file
is ValidationFailed (422); a file or a ticket over its limit is PayloadTooLarge (413).

Storage: content-addressed, `<data_dir>/attachments/<aa>/<sha256>`, outside any web root, each
blob written aside, fsynced and renamed in (durable.write_atomic): a crash or a full disk
leaves no half-written file. Disk trouble is the ticket store's StoreFull (507) or
StoreUnwritable (503), so routes answer it as they answer a ticket write. File names are
only ever shown (cleaned by `clean_name`), never used on disk.

A thread entry keeps its files as descriptors, `entry["attachments"] = [{"id", "name", "type",
"size", "sha256"}]` (model.add_reply / model.new_ticket take them).

Saving files with a message, from any channel (the widget, the admin, inbound email):

    files = [Upload("screenshot.png", data), Upload("invoice.pdf", other)]
    with helpdesk.attachments.saving(files) as descriptors:   # checked, cleaned, on disk
        store.update(reference, lambda t: (
            helpdesk.attachments.check_ticket(t, descriptors),   # the per-ticket limits
            model.add_reply(t, "visitor", t["name"], body, attachments=descriptors)))

`saving` refuses the whole message if one file is refused (nothing is written), and removes
the blobs it wrote if the block raises (the ticket update failed: nothing is left behind).
`Helpdesk.visitor_reply(reference, text, files)` and `Helpdesk.agent_reply(..., files=...)`
do exactly this.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import secrets
import threading
import unicodedata
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import durable
from .errors import NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from .settings import Settings
from .tickets.files import storage_error
from .tickets.model import Ticket

log = logging.getLogger("deskbell.attachments")

ALLOWED = "PNG, JPEG, GIF or WebP images, PDF documents, or plain text (UTF-8)"
IMAGE_MAX_PIXELS = 40_000_000  # 8000 x 5000; a bigger image is refused before decoding
NAME_MAX = 120  # characters of a shown file name
Descriptor = dict[str, Any]  # {"id", "name", "type", "size", "sha256"}

# Signature -> (Pillow format, what is stored, its MIME type, its extension)
_IMAGES = (
    (b"\x89PNG\r\n\x1a\n", "PNG", "PNG", "image/png", ".png"),
    (b"\xff\xd8\xff", "JPEG", "JPEG", "image/jpeg", ".jpg"),
    (b"GIF87a", "GIF", "PNG", "image/png", ".png"),
    (b"GIF89a", "GIF", "PNG", "image/png", ".png"),
)
_EXTENSIONS = {"image/png": (".png",), "image/jpeg": (".jpg", ".jpeg"),
               "image/webp": (".webp",), "application/pdf": (".pdf",),
               "text/plain": (".txt", ".log", ".csv", ".md", ".json")}
TYPES = tuple(_EXTENSIONS)  # every type ever stored, and so ever served
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})  # re-encoded: safe to show
# What a browser's sniffer (WHATWG MIME sniffing) takes for HTML or XML, plus SVG.
_MARKUP = re.compile(
    rb"\A(?:\xef\xbb\xbf)?[\t\n\x0c\r ]*<(?:!doctype\s+html|html|head|script|iframe|h1|div|"
    rb"font|table|a|style|title|b|body|br|p|svg|math|object|embed|meta|link|img|form|"
    rb"!--|\?xml)(?=[\s>/]|\Z)", re.IGNORECASE)
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")  # not in text (\t \n \f \r are)
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f/\\:*?\"<>|\u200b-\u200f\u2028-\u202e"
                          r"\u2060-\u2069\ufeff\ufff9-\ufffb]")


@dataclass(frozen=True)
class Upload:
    """A file as it arrived: the name the sender gave (only ever shown) and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class AttachmentLimits:
    file_bytes: int
    ticket_bytes: int
    message_files: int
    ticket_files: int

    @classmethod
    def from_settings(cls, settings: Settings) -> AttachmentLimits:
        return cls(settings.attachment_max_bytes, settings.attachment_ticket_bytes,
                   settings.attachment_max_files, settings.attachment_ticket_files)


@dataclass(frozen=True)
class Cleaned:
    """A file accepted: its shown name, stored type and the bytes that are kept."""

    name: str
    type: str
    data: bytes


def refuse_type(name: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(f"{name} cannot be attached: only {ALLOWED} are accepted",
                                {"file": name, "allowed": list(TYPES)})


def clean_name(raw: str, kind: str = "") -> str:
    """A file name safe to show and to put in Content-Disposition: the last path part, no
    control, bidi-override, zero-width or path characters, at most NAME_MAX characters, and
    ending in an extension of `kind` (appended when the sender's does not match)."""
    text = unicodedata.normalize("NFC", str(raw))
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = _UNSAFE_NAME.sub("", text).strip().strip(".").strip()
    text = " ".join(text.split())
    extensions = _EXTENSIONS.get(kind, ())
    stem, dot, suffix = text.rpartition(".")
    if extensions and (not dot or "." + suffix.lower() not in extensions):
        stem, suffix = text, extensions[0][1:]
    elif not dot:
        stem, suffix = text, ""
    stem = stem[:NAME_MAX - len(suffix) - 1].rstrip(". ") or "file"
    return f"{stem}.{suffix}" if suffix else stem


def content_disposition(descriptor: Descriptor) -> str:
    """`attachment` (`inline` for re-encoded images) with the cleaned name, ASCII fallback and
    RFC 5987 UTF-8 form."""
    name = clean_name(str(descriptor.get("name") or "file"), str(descriptor.get("type")))
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%;' else "_" for c in name)
    kind = "inline" if descriptor.get("type") in INLINE_TYPES else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def serve_headers(descriptor: Descriptor) -> dict[str, str]:
    """Headers for a stored file: its own type (never HTML or SVG), no sniffing, a sandbox."""
    kind = str(descriptor.get("type"))
    if kind not in TYPES:  # a document edited by hand: never let it choose how it renders
        kind = "application/octet-stream"
    media = "text/plain; charset=utf-8" if kind == "text/plain" else kind
    return {"content-type": media, "content-disposition": content_disposition(descriptor),
            "x-content-type-options": "nosniff",
            "content-security-policy": "default-src 'none'; sandbox",
            "cross-origin-resource-policy": "same-origin",
            "cache-control": "private, no-store"}


def _reencode(data: bytes, fmt: str, out_format: str) -> bytes:
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = IMAGE_MAX_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data), formats=[fmt]) as probe:
            width, height = probe.size
            if width * height > IMAGE_MAX_PIXELS:
                raise PayloadTooLarge(f"images may have at most {IMAGE_MAX_PIXELS} pixels")
            probe.verify()
        with Image.open(io.BytesIO(data), formats=[fmt]) as opened:
            opened.seek(0)
            opened.load()
            img = ImageOps.exif_transpose(opened)  # keep the photo upright once EXIF is gone
    alpha = img.mode in {"RGBA", "LA", "PA"} or "transparency" in img.info
    if out_format == "JPEG":
        mode = "L" if img.mode in {"1", "L"} else "RGB"
    elif img.mode in {"1", "L", "RGB"} and not alpha:
        mode = img.mode
    else:
        mode = "RGBA" if alpha else "RGB"
    pixels = img.convert(mode) if img.mode != mode else img
    clean = Image.frombytes(mode, pixels.size, pixels.tobytes())  # pixels only, no metadata
    out = io.BytesIO()
    options: dict[str, Any] = {"quality": 90} if out_format in {"JPEG", "WEBP"} else {}
    clean.save(out, out_format, **options)
    return out.getvalue()


def inspect(upload: Upload) -> Cleaned:
    """The file as it will be kept, judged by its bytes alone (see the module docstring)."""
    data, shown = upload.data, clean_name(upload.name)
    for magic, fmt, out_format, kind, _ in _IMAGES:
        if data.startswith(magic):
            return Cleaned(clean_name(upload.name, kind), kind, _image(data, fmt, out_format,
                                                                       shown))
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return Cleaned(clean_name(upload.name, "image/webp"), "image/webp",
                       _image(data, "WEBP", "WEBP", shown))
    if data.startswith(b"%PDF-"):
        return Cleaned(clean_name(upload.name, "application/pdf"), "application/pdf", data)
    if not _CONTROL.search(data) and not _MARKUP.match(data[:1024]):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return Cleaned(clean_name(upload.name, "text/plain"), "text/plain", data)
    raise refuse_type(shown)


def _image(data: bytes, fmt: str, out_format: str, shown: str) -> bytes:
    try:
        return _reencode(data, fmt, out_format)
    except PayloadTooLarge:
        raise
    except Exception as exc:  # Pillow raises many kinds for a damaged or hostile image
        from PIL import Image

        if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
            raise PayloadTooLarge(f"images may have at most {IMAGE_MAX_PIXELS} pixels") from None
        raise UnsupportedMediaType(f"{shown} is not an image that can be read ({exc}); only "
                                   f"{ALLOWED} are accepted",
                                   {"file": shown, "allowed": list(TYPES)}) from None


def descriptors_of(ticket: Ticket, authors: Iterable[str] | None = None) -> Iterator[Descriptor]:
    """Every file of the ticket's messages (of those `authors` only, when given)."""
    wanted = set(authors) if authors is not None else None
    for entry in ticket.get("thread") or []:
        if wanted is None or entry.get("author") in wanted:
            yield from entry.get("attachments") or []


class Attachments:
    """The attachments folder of one data_dir, with the limits of its settings."""

    def __init__(self, data_dir: str | Path, limits: AttachmentLimits) -> None:
        self.root = Path(data_dir) / "attachments"
        self.limits = limits
        self._locks = [threading.Lock() for _ in range(64)]  # per blob: one writer at a time

    @classmethod
    def from_settings(cls, settings: Settings) -> Attachments:
        return cls(settings.data_dir, AttachmentLimits.from_settings(settings))

    def path(self, sha256: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise NotFound("No such attachment")
        return self.root / sha256[:2] / sha256

    # -- checks

    def check_message(self, uploads: Sequence[Upload]) -> None:
        """The per-message limits, before any file is decoded."""
        if len(uploads) > self.limits.message_files:
            raise ValidationFailed(
                f"a message may carry at most {self.limits.message_files} file(s)",
                {"files": f"at most {self.limits.message_files}"})
        for upload in uploads:
            self.check_size(upload.name, len(upload.data))

    def check_size(self, name: str, size: int) -> None:
        if size > self.limits.file_bytes:
            raise PayloadTooLarge(f"{clean_name(name)} is larger than "
                                  f"{self.limits.file_bytes} bytes, the most a file may have")

    def check_ticket(self, ticket: Ticket, adding: Sequence[Descriptor]) -> None:
        """The per-ticket limits with `adding` counted in; run inside the store's update."""
        held = list(descriptors_of(ticket))
        if len(held) + len(adding) > self.limits.ticket_files:
            raise ValidationFailed(
                f"a ticket may hold at most {self.limits.ticket_files} file(s)",
                {"files": f"at most {self.limits.ticket_files} per ticket"})
        total = sum(int(d.get("size") or 0) for d in [*held, *adding])
        if total > self.limits.ticket_bytes:
            raise PayloadTooLarge(f"a ticket may hold at most {self.limits.ticket_bytes} "
                                  "bytes of files; this one would hold more")

    # -- writes

    @contextmanager
    def saving(self, uploads: Sequence[Upload]) -> Iterator[list[Descriptor]]:
        """Check, clean and store `uploads`; yield their descriptors. Nothing is written if
        one is refused; the blobs written here are removed if the block raises."""
        if not uploads:
            yield []
            return
        self.check_message(uploads)
        for upload in uploads:
            if not upload.data:
                raise ValidationFailed(f"{clean_name(upload.name)} is empty",
                                       {"files": "an empty file cannot be attached"})
        cleaned = [inspect(upload) for upload in uploads]
        for item in cleaned:
            self.check_size(item.name, len(item.data))
        created: list[Path] = []
        try:
            descriptors = [self._store(item, created) for item in cleaned]
            yield descriptors
        except BaseException:
            for path in created:
                self._remove(path)
            raise

    def _store(self, item: Cleaned, created: list[Path]) -> Descriptor:
        digest = hashlib.sha256(item.data).hexdigest()
        path = self.path(digest)
        with self._locks[int(digest[:2], 16) % len(self._locks)]:
            try:
                if not (path.is_file() and path.stat().st_size == len(item.data)):
                    path.parent.mkdir(parents=True, exist_ok=True)
                    durable.write_atomic(path, item.data, permissions=0o600)
                    created.append(path)
            except OSError as exc:
                raise storage_error(path, exc) from exc
        return {"id": secrets.token_urlsafe(9), "name": item.name, "type": item.type,
                "size": len(item.data), "sha256": digest}

    def _remove(self, path: Path) -> None:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove %s: %s", path, exc)

    # -- reads

    def read(self, descriptor: Descriptor) -> bytes:
        """The stored bytes of a file; NotFound if its blob is gone (logged: it should not)."""
        path = self.path(str(descriptor.get("sha256")))
        try:
            return path.read_bytes()
        except FileNotFoundError:
            log.warning("attachment blob %s is missing", path)
            raise NotFound("No such attachment") from None
        except OSError as exc:
            raise storage_error(path, exc) from exc

    # -- erasure

    def remove_unreferenced(self, candidates: Iterable[str], tickets: Iterable[Ticket]) -> int:
        """Delete the blobs of `candidates` (sha256s) that no ticket of `tickets` refers to;
        returns how many were deleted."""
        wanted = set(candidates)
        if not wanted:
            return 0
        for ticket in tickets:
            wanted -= {str(d.get("sha256")) for d in descriptors_of(ticket)}
        removed = 0
        for digest in wanted:
            try:
                path = self.path(digest)
            except NotFound:
                continue
            if path.exists():
                self._remove(path)
                if not path.exists():
                    removed += 1
                    durable.fsync_dir(path.parent)
        return removed


def find(ticket: Ticket, attachment_id: str, authors: Iterable[str] | None = None
         ) -> Descriptor | None:
    """The descriptor with this id among the ticket's messages (of `authors`), or None."""
    for descriptor in descriptors_of(ticket, authors):
        if secrets.compare_digest(str(descriptor.get("id", "")).encode(),
                                  attachment_id.encode("utf-8", "replace")):
            return descriptor
    return None


def size_text(size: int) -> str:
    """1.2 MB, 340 KB, 12 bytes: for pages and exports."""
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    return f"{max(1, round(size / 1000))} KB" if size >= 1000 else f"{size} bytes"


__all__ = ["ALLOWED", "AttachmentLimits", "Attachments", "Cleaned", "Descriptor",
           "IMAGE_MAX_PIXELS", "TYPES", "Upload", "clean_name", "content_disposition",
           "descriptors_of", "find", "inspect", "refuse_type", "serve_headers",
           "size_text"]
