"""`{% plain_field form.note %}`: one form field as Bootstrap 5 markup, written in Python.

crispy's as_crispy_field renders a field through several templates, and Django's widgets one
more per <option>: on the staff referral page those were about a quarter of its time (issue 18).
The markup here is what crispy-bootstrap5 gives for the staff action forms (label, control,
help text, errors, each tied to the control by id and aria-describedby), escaped by format_html.
Used where the cost shows (the referral page's actions); the intake forms keep crispy.
"""

from django import forms, template
from django.forms.utils import flatatt
from django.forms.widgets import Input
from django.utils.html import format_html, format_html_join

register = template.Library()

# Fixed bits of markup, made by format_html like the rest (nothing here is marked safe by hand).
STAR = format_html('<span class="{}">*</span>', "asteriskField")
CHECKED = format_html(" {}", "checked")
SELECTED = format_html(" {}", "selected")


def _label(field, *, tag="label") -> str:
    star = STAR if field.field.required else ""
    if tag == "legend":
        return format_html('<legend class="form-label fs-6">{}{}</legend>', field.label, star)
    return format_html(
        '<label for="{}" class="form-label">{}{}</label>', field.id_for_label, field.label, star
    )


def _notes(field, help_id: str, error_id: str) -> str:
    help_text = (
        format_html('<div id="{}" class="form-text">{}</div>', help_id, field.help_text)
        if field.help_text
        else ""
    )
    errors = (
        format_html(
            '<div id="{}" class="invalid-feedback d-block">{}</div>',
            error_id,
            format_html_join(" ", "<strong>{}</strong>", ((e,) for e in field.errors)),
        )
        if field.errors
        else ""
    )
    return format_html("{}{}", errors, help_text)


def _selected(field) -> set[str]:
    value = field.value()
    values = value if isinstance(value, list | tuple) else [value]
    return {"" if v is None else str(v) for v in values}


@register.simple_tag
def plain_field(field) -> str:
    widget = field.field.widget
    auto_id = field.auto_id
    help_id, error_id = f"{auto_id}_helptext", f"{auto_id}_error"
    described = " ".join(
        i for i, on in ((error_id, field.errors), (help_id, field.help_text)) if on
    )
    invalid = " is-invalid" if field.errors else ""
    if isinstance(widget, forms.CheckboxSelectMultiple):
        chosen = _selected(field)
        boxes = format_html_join(
            "",
            '<div class="form-check"><input type="checkbox" name="{}" value="{}" id="{}_{}" '
            'class="form-check-input{}"{}><label class="form-check-label" for="{}_{}">{}'
            "</label></div>",
            (
                (field.html_name, value, auto_id, i, invalid,
                 CHECKED if str(value) in chosen else "", auto_id, i, label)
                for i, (value, label) in enumerate(field.field.choices)
            ),
        )  # fmt: skip
        aria = format_html(' aria-describedby="{}"', described) if described else ""
        return format_html(
            '<fieldset class="mb-3" id="{}"{}>{}{}{}</fieldset>',
            auto_id,
            aria,
            _label(field, tag="legend"),
            boxes,
            _notes(field, help_id, error_id),
        )
    attrs = field.build_widget_attrs(dict(widget.attrs), widget)
    attrs.update(name=field.html_name, id=auto_id)
    if described:
        attrs["aria-describedby"] = described
    if field.errors:
        attrs["aria-invalid"] = "true"
    if isinstance(widget, forms.Select):
        attrs["class"] = "form-select" + invalid
        chosen = _selected(field)
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (value, SELECTED if str(value) in chosen else "", label)
                for value, label in field.field.choices
            ),
        )
        control = format_html("<select{}>{}</select>", flatatt(attrs), options)
    elif isinstance(widget, forms.Textarea):
        attrs["class"] = "form-control" + invalid
        attrs.setdefault("cols", "40")
        value = widget.format_value(field.value()) or ""
        control = format_html("<textarea{}>\n{}</textarea>", flatatt(attrs), value)
    elif isinstance(widget, Input):
        attrs["class"] = "form-control" + invalid
        attrs["type"] = widget.input_type
        value = widget.format_value(field.value())
        if value is not None and widget.input_type != "password":
            attrs["value"] = value
        control = format_html("<input{}>", flatatt(attrs))
    else:  # a widget this does not know: Django's own rendering, still labelled
        control = field.as_widget()
    return format_html(
        '<div class="mb-3" id="div_{}">{}{}{}</div>',
        auto_id,
        _label(field),
        control,
        _notes(field, help_id, error_id),
    )
