from django.http import FileResponse


def private_file_response(fieldfile, *, filename: str, content_type: str, inline: bool = False):
    """A stored file served by a view that has checked access: never sniffed, never cached."""
    response = FileResponse(
        fieldfile.open("rb"),
        as_attachment=not inline,
        filename=filename,
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
