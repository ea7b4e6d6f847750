"""HL7 v2.4 secure messaging (HL7AU ADRM simplified REF profile): referrals in, letters out."""
