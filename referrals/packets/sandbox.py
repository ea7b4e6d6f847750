"""Turn uploaded documents into safe packet parts, in a child process with resource limits.

Uploaded files are hostile until proven otherwise: a PDF with a decompression bomb or a
circular cross-reference, or an image that decodes to gigabytes, must not hang or exhaust the
packet worker. So the parsing happens here, in `python -m referrals.packets.sandbox`, run by
`prepare_documents()` under an address-space limit, a CPU limit and a wall-clock timeout. The
parent only ever reads what this process wrote: rewritten PDFs, disarmed of anything that could
act in the IR's viewer (referrals/packets/disarm.py), and images of bounded size re-encoded
from their pixels (a JPEG as a JPEG, which WeasyPrint embeds as it is; a PNG or a DICOM frame as
a PNG), so nothing but pixels survives from an uploaded image.

Protocol: a JSON list of {"id", "path", "content_type", "out"} on stdin; a JSON object
{id: result} on stdout, where result is one of
  {"ok": true, "kind": "pdf", "pdf": path, "pages": n, "removed": {kind: count}, "note"?}
  {"ok": true, "kind": "image", "image": path, "width": w, "height": h}
  {"ok": true, "kind": "dicom", "image": path or null, "summary": {...}, "note": str}
  {"ok": false, "note": "why it is not included"}

referrals/packets/parts.py turns each result into the document's packet part, once per document.

The same child checks a PDF at upload (`inspect_pdf()`, `--inspect-pdf`), under much tighter
limits because a web request is waiting: {"path"} in, {"ok": true, "pages": n} or
{"ok": false, "problem": "password" | "broken" | "limits"} out.

Command line: `python -m referrals.packets.sandbox --memory BYTES --cpu SECONDS`, and
`--inspect-pdf` for the upload check.

The child sets its own limits first thing, before it reads a byte of the document, so the parent
needs no preexec_fn (which is unsafe in a threaded web server) and can fork cheaply.
"""

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

MB = 1024 * 1024
MAX_IMAGE_SIDE = 2000  # pixels: plenty for an A4 page at 200 dpi
MEMORY_LIMIT = 1536 * MB
CPU_SECONDS = 120
# A page's content is decoded again by the worker itself when the packet is stamped (pypdf
# refuses more than 75 MB there); the child makes sure each page's is well under that.
MAX_PAGE_CONTENT = 64 * MB
# Images, fonts and forms inside a PDF are only decoded here, to prove they are not bombs that
# would hang the IR's PDF viewer; a real scan can exceed pypdf's default 75 MB a stream.
MAX_STREAM_DECODED = 256 * MB

# Checking a PDF at upload (the web request waits): structure only, tight bounds.
UPLOAD_MEMORY_LIMIT = 512 * MB
UPLOAD_CPU_SECONDS = 5
UPLOAD_TIMEOUT = 10
# At upload pypdf inflates only cross-reference and object streams: well under a megabyte in a
# real PDF (a cross-reference stream of a million objects is about 7 MB).
UPLOAD_STREAM_LIMIT = 8 * MB


def _pdf(path: str, out: str) -> dict:
    """Disarm the PDF (pikepdf: referrals/packets/disarm.py), then rewrite it with pypdf, whose
    stream decoding is bounded: each page's content settled, every stream decoded once."""
    import pikepdf
    from pypdf import PdfReader, PdfWriter, overwrite_configuration

    from referrals.packets.disarm import disarm

    # Never hand a stream to an outside decoder (jbig2dec): the packet doesn't need one.
    overwrite_configuration(jbig2dec_binary=None)
    try:
        # An empty password opens a file locked only by an owner password ("no copying").
        source = pikepdf.open(path, password="")
    except pikepdf.PasswordError:
        return {"ok": False, "note": "Password-protected PDF: not included."}
    disarmed = f"{out}.disarmed.pdf"
    with source:
        protected = source.is_encrypted
        removed = disarm(source)
        # Saved unencrypted, and with every stream as it came: qpdf would otherwise inflate a
        # compressed stream to compress it again, unbounded, where pypdf below has limits.
        source.save(
            disarmed,
            encryption=False,
            compress_streams=False,
            stream_decode_level=pikepdf.StreamDecodeLevel.none,
            object_stream_mode=pikepdf.ObjectStreamMode.disable,
        )
    # A clone keeps what the disarm kept beyond the pages: bookmarks, named destinations.
    writer = PdfWriter(clone_from=PdfReader(disarmed, strict=False))
    for page in writer.pages:
        _settle_content(page)
    _decode_every_stream(writer)
    pdf = f"{out}.pdf"
    with open(pdf, "wb") as handle:
        writer.write(handle)
    result = {"ok": True, "kind": "pdf", "pdf": pdf, "pages": len(writer.pages), "removed": removed}
    if protected:
        result["note"] = "Its copy protection was removed so it could be included."
    return result


class TooLarge(Exception):
    """A document that would take more memory or time than it is worth: not included."""


def _settle_content(page) -> None:
    """Decode the page's content here, under the child's limits, and store it again as one
    plainly compressed stream. A nested-Flate bomb fails now, instead of inflating in the worker
    when the packet is stamped (which decodes every page's content)."""
    from pypdf.generic import DecodedStreamObject

    contents = page.get_contents()  # decodes (pypdf stops at 75 MB a stream)
    if contents is None:
        return
    data = contents.get_data()
    if len(data) > MAX_PAGE_CONTENT:
        raise TooLarge
    stream = DecodedStreamObject()
    stream.set_data(data)
    page.replace_contents(stream.flate_encode())


def _decode_every_stream(writer) -> None:
    """Decode each stream the packet would carry (images, fonts, forms, annotations), one at a
    time and without keeping the result: a decompression bomb makes the document too large
    rather than reaching the IR's PDF viewer. Damaged streams are a viewer's everyday problem
    and are let through; only exhausting a limit counts."""
    from pypdf import apply_configuration
    from pypdf.errors import LimitReachedError
    from pypdf.filters import decode_stream_data
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

    seen: set[tuple[int, int]] = set()
    pending: list = [writer.root_object]  # the pages, and the bookmarks and the rest
    limits = {
        "zlib_maximum_output_length": MAX_STREAM_DECODED,
        "lzw_maximum_output_length": MAX_STREAM_DECODED,
        "run_length_maximum_output_length": MAX_STREAM_DECODED,
        "brotli_maximum_output_length": MAX_STREAM_DECODED,
        "array_based_stream_maximum_output_length": MAX_STREAM_DECODED,
        "stream_decoding_work_maximum_length": 2 * MAX_STREAM_DECODED,
    }
    with apply_configuration(**limits):
        while pending:
            obj = pending.pop()
            if isinstance(obj, IndirectObject):
                key = (obj.idnum, obj.generation)
                if key in seen:
                    continue
                seen.add(key)
                obj = obj.get_object()
            if isinstance(obj, StreamObject):
                try:
                    decode_stream_data(obj)
                except (LimitReachedError, MemoryError) as exc:
                    raise TooLarge from exc
                except Exception:  # noqa: S110 - damaged, not dangerous: see the docstring
                    pass
            if isinstance(obj, DictionaryObject):
                pending.extend(value for key, value in obj.items() if key != "/Parent")
            elif isinstance(obj, ArrayObject):
                pending.extend(obj)


JPEG_QUALITY = 90


def _image(path: str, out: str) -> dict:
    from PIL import Image, ImageFile, ImageOps

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    with Image.open(path) as img:
        photo = img.format == "JPEG"
        img = ImageOps.exif_transpose(img)
        img.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
        img = img.convert("RGB") if img.mode not in ("RGB", "L") else img
        # A photo stays a JPEG (a PNG of one is several times the size, and WeasyPrint embeds a
        # JPEG without decoding it); a PNG (a screenshot, a scanned form) stays lossless.
        image = f"{out}.jpg" if photo else f"{out}.png"
        if photo:
            img.save(image, format="JPEG", quality=JPEG_QUALITY)
        else:
            img.save(image, format="PNG")
        return {"ok": True, "kind": "image", "image": image, "width": img.width,
                "height": img.height}  # fmt: skip


def _dicom(path: str, out: str) -> dict:
    import pydicom

    ds = pydicom.dcmread(path, force=True)
    summary = {
        "modality": str(ds.get("Modality", "") or ""),
        "study_date": str(ds.get("StudyDate", "") or ""),
        "study_time": str(ds.get("StudyTime", "") or ""),
        "description": str(ds.get("StudyDescription", "") or ds.get("SeriesDescription", "")),
        "body_part": str(ds.get("BodyPartExamined", "") or ""),
    }
    if "PixelData" not in ds:
        return {"ok": True, "kind": "dicom", "image": None, "summary": summary,
                "note": "No image data in this file."}  # fmt: skip
    try:
        png = _dicom_first_frame(ds, f"{out}.png")
    except Exception as exc:  # a compressed syntax without its codec, or odd pixel data
        note = f"The image could not be rendered here ({type(exc).__name__})."
        return {"ok": True, "kind": "dicom", "image": None, "summary": summary, "note": note}
    return {"ok": True, "kind": "dicom", "image": png, "summary": summary, "note": ""}


def _dicom_first_frame(ds, png: str) -> str:
    import numpy as np
    from PIL import Image

    frames = ds.pixel_array
    frame = frames[0] if int(ds.get("NumberOfFrames", 1) or 1) > 1 else frames
    if frame.ndim == 3 and frame.shape[-1] in (3, 4):
        image = Image.fromarray(np.asarray(frame[..., :3], dtype=np.uint8), "RGB")
    else:
        data = frame.astype("float64")
        low, high = float(data.min()), float(data.max())
        scaled = (data - low) / (high - low) * 255 if high > low else data * 0
        if str(ds.get("PhotometricInterpretation", "")) == "MONOCHROME1":
            scaled = 255 - scaled
        image = Image.fromarray(scaled.astype("uint8"), "L")
    image.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
    image.save(png, format="PNG")
    return png


HANDLERS = {
    "application/pdf": _pdf,
    "image/jpeg": _image,
    "image/png": _image,
    "application/dicom": _dicom,
}


def _prepare_one(item: dict) -> dict:
    handler = HANDLERS.get(item["content_type"])
    if handler is None:
        return {"ok": False, "note": "Not a type the packet includes."}
    try:
        return handler(item["path"], item["out"])
    except (MemoryError, TooLarge):
        return {"ok": False, "note": "Too large to include safely: not included."}
    except Exception as exc:
        if type(exc).__name__ in ("LimitReachedError", "DecompressionBombError"):
            return {"ok": False, "note": "Too large to include safely: not included."}
        return {"ok": False, "note": f"Could not be read ({type(exc).__name__}): not included."}


def _inspect_pdf(path: str) -> dict:
    """The upload check of a PDF: it opens, it is not locked, its page tree can be walked.
    Only cross-reference and object streams are inflated; page content is left to the packet."""
    from pypdf import PasswordType, PdfReader, overwrite_configuration
    from pypdf.errors import LimitReachedError

    overwrite_configuration(
        jbig2dec_binary=None,  # no outside decoder for a stream a hostile file labels JBIG2
        zlib_maximum_output_length=UPLOAD_STREAM_LIMIT,
        lzw_maximum_output_length=UPLOAD_STREAM_LIMIT,
        run_length_maximum_output_length=UPLOAD_STREAM_LIMIT,
        brotli_maximum_output_length=UPLOAD_STREAM_LIMIT,
        array_based_stream_maximum_output_length=UPLOAD_STREAM_LIMIT,
        stream_decoding_work_maximum_length=2 * UPLOAD_STREAM_LIMIT,
    )
    try:
        # An open file object, not the path: given a path, pypdf reads the whole file in.
        with open(path, "rb") as handle:
            reader = PdfReader(handle, strict=False)
            if reader.is_encrypted:
                try:
                    opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
                except Exception:
                    opened = False  # e.g. AES without the cryptography package
                if not opened:
                    return {"ok": False, "problem": "password"}
            return {"ok": True, "pages": len(reader.pages)}
    except (LimitReachedError, MemoryError, RecursionError):
        return {"ok": False, "problem": "limits"}
    except Exception as exc:
        return {"ok": False, "problem": "broken", "error": type(exc).__name__}


def _limit_resources(memory: int, cpu: int) -> None:
    """Runs in the child, first thing: the document is read only after this."""
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m referrals.packets.sandbox")
    parser.add_argument("--memory", type=int, required=True)
    parser.add_argument("--cpu", type=int, required=True)
    parser.add_argument("--inspect-pdf", action="store_true")
    args = parser.parse_args(argv)
    _limit_resources(args.memory, args.cpu)
    payload = json.load(sys.stdin)
    if args.inspect_pdf:
        result = _inspect_pdf(payload["path"])
    else:
        result = {item["id"]: _prepare_one(item) for item in payload}
    json.dump(result, sys.stdout)


# --- the parent's side --------------------------------------------------------------------------


def _run(payload, timeout: float, *, memory: int, cpu: int, options: tuple = ()):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "referrals.packets.sandbox", "--memory", str(int(memory)),
               "--cpu", str(int(cpu)), *options]  # fmt: skip
    completed = subprocess.run(  # noqa: S603 - our own module, arguments are fixed
        command,
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=timeout,  # on expiry the child is killed
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        check=True,
    )
    return json.loads(completed.stdout)


def _run_items(items: list[dict], timeout: float) -> dict:
    # The limits are read at call time so that tests (and settings) can change them.
    return _run(items, timeout, memory=MEMORY_LIMIT, cpu=CPU_SECONDS)


def prepare_documents(items: list[dict], *, timeout: float = 90) -> dict:
    """Prepare every document in one child; if that child dies or times out, prepare each in
    its own child so one hostile file costs only itself."""
    if not items:
        return {}
    try:
        return _run_items(items, timeout)
    except (subprocess.SubprocessError, ValueError, OSError):
        pass
    results = {}
    for item in items:
        try:
            results.update(_run_items([item], timeout / 2))
        except subprocess.TimeoutExpired:
            results[item["id"]] = {"ok": False, "note": "Took too long to read: not included."}
        except (subprocess.SubprocessError, ValueError, OSError):
            results[item["id"]] = {"ok": False, "note": "Could not be read safely: not included."}
    return results


def inspect_pdf(path, *, timeout: float | None = None) -> dict:
    """Check an uploaded PDF in a child with tight limits (see `_inspect_pdf`).

    Returns {"ok": True, "pages": n} or {"ok": False, "problem": ...}, where problem is
    "password", "broken", "limits" (it needed more memory or time than a real PDF does) or
    "unavailable" (no child could be started: the server's trouble, not the file's).
    """
    try:
        return _run(
            {"path": str(path)},
            UPLOAD_TIMEOUT if timeout is None else timeout,
            memory=UPLOAD_MEMORY_LIMIT,
            cpu=UPLOAD_CPU_SECONDS,
            options=("--inspect-pdf",),
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "problem": "limits"}
    except subprocess.CalledProcessError as exc:
        # Killed by a signal (SIGXCPU at the CPU limit, SIGKILL) or out of memory somewhere
        # pypdf did not catch: the file's doing. Any other failure is ours.
        if exc.returncode < 0 or "MemoryError" in (exc.stderr or ""):
            return {"ok": False, "problem": "limits"}
        logger.error("The PDF check failed to run: %s", (exc.stderr or "")[-2000:])
        return {"ok": False, "problem": "unavailable"}
    except (subprocess.SubprocessError, ValueError, OSError):
        logger.exception("The PDF check could not be run")
        return {"ok": False, "problem": "unavailable"}


if __name__ == "__main__":
    main()
