"""Synthetic HL7 v2.4 REF^I12 messages written after the examples of HL7AU ADRM, Appendix 8 (the
simplified REF profile). Every patient and doctor is invented; identifiers are fixed numbers
checked by hand (tests/factories.py lists them)."""

import base64

import hl7

from tests.files import image_bytes, pdf_bytes

# The demo receiver ids (settings: HL7_RECEIVER_IDS in development).
PRACTICE_HPIO = "8003620000000013"
IR_PROVIDER = "2468101L"
GP_PROVIDER = "2758922W"  # Dr Alex Morgan (tests/factories.py: VALID_PROVIDER_NUMBERS)
IHI = "8003603930955977"
MEDICARE = "58778932511"  # card 5877893251, IRN 1

LEVEL_1 = (
    "MSH|^~\\&|BestPractice^1.0^L|Morgan Family Clinic^8003623233370062^AUSHIC|VPPORTAL"
    "|Vertebroplasty Practice^{hpio}^AUSHIC|20261201093000+1000||REF^I12^REF_I12|{control}|P"
    "|2.4|||AL|NE|AUS|UNICODE UTF-8|||HL7AU-OO-REF-SIMPLIFIED-201706^HL7AU"
    "^2.16.840.1.113883.3.2074.1^ISO~HL7AU-OO-REF-SIMPLIFIED-201706-L1^HL7AU"
    "^2.16.840.1.113883.3.2074.1^ISO\r"
    "RF1|{status}^{status_text}^HL70283|{priority}^Routine^HL70280|RPC^Referral^HL70281||"
    "|{originating}^Morgan Family Clinic^8003623233370062^AUSHIC|20261201||"
    "|^Painful osteoporotic compression fracture L1, for vertebroplasty opinion\r"
    "PRD|RP^Referring Provider^HL70286|Morgan^Alex^^^Dr|12 Wattle Street^^Katoomba^NSW^2780^AU"
    "|^^^Morgan Family Clinic|^WPN^PH^^^^^^^^^0247820000~^NET^Internet^alex.gp@clinic.example"
    "||{gp}^AUSHICPR^UPIN\r"
    "PRD|IR^Intended Recipient^HL70286|Lee^Jordan^^^Dr|1 Hospital Road^^Sydney^NSW^2000^AU"
    "|^^^Vertebroplasty Practice|||{ir}^AUSHICPR^UPIN\r"
    "PID|1||{pid3}||{family}^{given}^^^Mrs^^L||19410315|F|||3 Banksia Avenue^^Leura^NSW^2780^AU"
    "||^PRN^PH^^^^^^^^^0247801234~0412345678^ORN^CP\r"
    "AL1|1|DA|^Penicillin|MO|Rash\r"
    "OBR|1|{originating}^Morgan Family Clinic^8003623233370062^AUSHIC||11488-4^Consult note^LN"
    "|||20261201093000+1000|||||||||Morgan^Alex^^^Dr||||||20261201093000+1000|||F\r"
    "OBX|1|FT|10160-0^History of medication use^LN||Paracetamol 1 g qid\\.br\\Oxycodone 5 mg"
    " prn||||||F\r"
    "OBX|2|ED|PDF^Display format in PDF^AUSPDI||^application^pdf^Base64^{pdf}||||||F\r"
)

ATTACHMENT_GROUP = (
    "OBR|2|{originating}-2^Morgan Family Clinic^8003623233370062^AUSHIC||18748-4^Imaging report"
    "^LN|||20261130|||||||||Morgan^Alex^^^Dr||||||20261130|||F\r"
    "OBX|1|ED|18748-4^MRI lumbar spine report^LN||^application^pdf^Base64^{report}||||||F\r"
    "OBX|2|ED|IMG^Sagittal STIR image^L||^image^jpeg^Base64^{image}||||||F\r"
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def message(
    *,
    control="MSG00001",
    originating="REF-1001",
    status="P",
    status_text="Pending",
    priority="R",
    pid3=None,
    family="Citizen",
    given="Margaret",
    gp=GP_PROVIDER,
    ir=IR_PROVIDER,
    hpio=PRACTICE_HPIO,
    pdf=None,
    level2=False,
    segments_out=(),
) -> bytes:
    if pid3 is None:
        pid3 = f"{IHI}^^^AUSHIC^NI~{MEDICARE}^^^AUSHIC^MC~4471^^^Morgan Family Clinic^MR"
    text = LEVEL_1.format(
        control=control, originating=originating, status=status, status_text=status_text,
        priority=priority, pid3=pid3, family=family, given=given, gp=gp, ir=ir, hpio=hpio,
        pdf=b64(pdf if pdf is not None else pdf_bytes(pages=2)),
    )  # fmt: skip
    if level2:
        text += ATTACHMENT_GROUP.format(
            originating=originating, report=b64(pdf_bytes(pages=1)),
            image=b64(image_bytes("JPEG")),
        )  # fmt: skip
    parsed = hl7.parse(text)
    parsed[:] = [segment for segment in parsed if str(segment[0]) not in segments_out]
    return str(parsed).encode("utf-8")
