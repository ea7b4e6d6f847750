"""Turn uploaded documents into safe packet parts, in a child process with resource limits.

Uploaded files are hostile until proven otherwise: a PDF with a decompression bomb or a
circular cross-reference, or an image that decodes to gigabytes, must not hang or exhaust the
packet worker. So the parsing happens here, in `python -m referrals.prepare`, run by
`prepare_documents()` under an address-space limit, a CPU limit and a wall-clock timeout. The
parent only ever reads what this process wrote: rewritten PDFs and PNGs of bounded size.

Protocol: a JSON list of {"id", "path", "content_type", "out"} on stdin; a JSON object
{id: result} on stdout, where result is one of
  {"ok": true, "kind": "pdf", "pdf": path, "pages": n}
  {"ok": true, "kind": "image", "png": path, "width": w, "height": h}
  {"ok": true, "kind": "dicom", "png": path or null, "summary": {...}, "note": str}
  {"ok": false, "note": "why it is not included"}
"""

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

MAX_IMAGE_SIDE = 2000  # pixels: plenty for an A4 page at 200 dpi
MEMORY_LIMIT = 1536 * 1024 * 1024
CPU_SECONDS = 120


def _pdf(path: str, out: str) -> dict:
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(path, strict=False)
    if reader.is_encrypted:
        try:
            if not reader.decrypt(""):
                return {"ok": False, "note": "Password-protected PDF: not included."}
        except Exception:
            return {"ok": False, "note": "Encrypted PDF that cannot be opened: not included."}
    writer = PdfWriter()
    for page in reader.pages:  # touching every page makes a broken one fail here, not later
        writer.add_page(page)
    pdf = f"{out}.pdf"
    with open(pdf, "wb") as handle:
        writer.write(handle)
    return {"ok": True, "kind": "pdf", "pdf": pdf, "pages": len(writer.pages)}


def _image(path: str, out: str) -> dict:
    from PIL import Image, ImageFile, ImageOps

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    with Image.open(path) as img:
        img = ImageOps.exif_transpose(img)
        img.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
        img = img.convert("RGB") if img.mode not in ("RGB", "L") else img
        png = f"{out}.png"
        img.save(png, format="PNG")
        return {"ok": True, "kind": "image", "png": png, "width": img.width, "height": img.height}


def _dicom(path: str, out: str) -> dict:
    import pydicom

    ds = pydicom.dcmread(path, force=True)
    summary = {
        "modality": str(ds.get("Modality", "") or ""),
        "study_date": str(ds.get("StudyDate", "") or ""),
        "description": str(ds.get("StudyDescription", "") or ds.get("SeriesDescription", "")),
        "body_part": str(ds.get("BodyPartExamined", "") or ""),
    }
    if "PixelData" not in ds:
        return {"ok": True, "kind": "dicom", "png": None, "summary": summary,
                "note": "No image data in this file."}  # fmt: skip
    try:
        png = _dicom_first_frame(ds, f"{out}.png")
    except Exception as exc:  # a compressed syntax without its codec, or odd pixel data
        note = f"The image could not be rendered here ({type(exc).__name__})."
        return {"ok": True, "kind": "dicom", "png": None, "summary": summary, "note": note}
    return {"ok": True, "kind": "dicom", "png": png, "summary": summary, "note": ""}


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
    except MemoryError:
        return {"ok": False, "note": "Too large to include safely: not included."}
    except Exception as exc:
        return {"ok": False, "note": f"Could not be read ({type(exc).__name__}): not included."}


def main() -> None:
    items = json.load(sys.stdin)
    json.dump({item["id"]: _prepare_one(item) for item in items}, sys.stdout)


# --- the parent's side --------------------------------------------------------------------------


def _limit_resources() -> None:  # runs in the child, before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _run(items: list[dict], timeout: float) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    completed = subprocess.run(  # noqa: S603 - our own module, arguments are fixed
        [sys.executable, "-m", "referrals.prepare"],
        input=json.dumps(items),
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_limit_resources,  # noqa: PLW1509 - the worker runs no threads that matter here
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        check=True,
    )
    return json.loads(completed.stdout)


def prepare_documents(items: list[dict], *, timeout: float = 90) -> dict:
    """Prepare every document in one child; if that child dies or times out, prepare each in
    its own child so one hostile file costs only itself."""
    if not items:
        return {}
    try:
        return _run(items, timeout)
    except (subprocess.SubprocessError, ValueError, OSError):
        pass
    results = {}
    for item in items:
        try:
            results.update(_run([item], timeout / 2))
        except subprocess.TimeoutExpired:
            results[item["id"]] = {"ok": False, "note": "Took too long to read: not included."}
        except (subprocess.SubprocessError, ValueError, OSError):
            results[item["id"]] = {"ok": False, "note": "Could not be read safely: not included."}
    return results


if __name__ == "__main__":
    main()
