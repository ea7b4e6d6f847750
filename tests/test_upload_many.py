"""Through HTTP: several files in one upload, each accepted or refused on its own, the JSON
line the page's script shows under each file, and autosave naming the fields to correct."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import make_referral
from tests.files import image_bytes, pdf_bytes


def files(*named):
    return [
        SimpleUploadedFile(name, content, "application/octet-stream") for name, content in named
    ]


def test_several_files_in_one_post_are_each_added_or_refused(client, referrer, private_media):
    referral = make_referral(referrer)
    client.force_login(referrer)
    response = client.post(
        reverse("attachment_upload", args=[referral.uuid]),
        {"kind": "imaging", "file": files(("a.jpg", image_bytes("JPEG")), ("b.pdf", b"nope"),
                                          ("c.png", image_bytes("PNG")))},
    )  # fmt: skip
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "Added “a.jpg”." in page and "Added “c.png”." in page
    assert "“b.pdf” was not added" in page
    assert sorted(referral.attachments.values_list("original_name", flat=True)) == [
        "a.jpg", "c.png",
    ]  # fmt: skip


def test_the_script_gets_one_json_line_a_file_and_no_message_left_over(
    client, referrer, private_media
):
    referral = make_referral(referrer)
    client.force_login(referrer)
    url = reverse("attachment_upload", args=[referral.uuid])
    good = client.post(url, {"kind": "pathology", "file": files(("bloods.pdf", pdf_bytes()))},
                       headers={"accept": "application/json"})  # fmt: skip
    assert (good.status_code, good.json()) == (200, {"ok": True, "message": "Added “bloods.pdf”."})
    bad = client.post(url, {"kind": "", "file": files(("x.pdf", pdf_bytes()))},
                      headers={"accept": "application/json"})  # fmt: skip
    assert bad.status_code == 400
    assert bad.json()["message"].startswith("“x.pdf” was not added: This field is required")
    page = client.get(reverse("referral_section", args=[referral.uuid, "documents"]))
    assert "was not added" not in page.content.decode()


def test_autosave_names_the_fields_to_correct_and_carries_each_error(client, referrer):
    referral = make_referral(referrer)
    client.force_login(referrer)
    response = client.post(
        reverse("referral_autosave", args=[referral.uuid, "patient"]),
        {"patient_given_name": "Joan", "medicare_number": "2950123450", "postcode": "99999"},
    )
    text = response.content.decode()
    assert "Draft kept at" in text
    assert "correct Medicare card number, Postcode before they count." in text
    assert '<p data-field="id_medicare_number">' in text
    assert '<div id="autosave-errors" hidden hx-swap-oob="true">' in text
