"""Incident classification: Haven's TFGBV types mapped to GBVIMS and the EU DSA categories.

GBVIMS core incident types: rape, sexual assault, physical assault, forced marriage,
denial of resources, psychological/emotional abuse.  Technology-facilitated abuse is
recorded there as psychological/emotional abuse unless a contact offence is involved.
DSA: the statement-of-reasons category keywords of the EU transparency database.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class TfgbvType(models.TextChoices):
    ILLEGAL_FILMING = "illegal_filming", _("Illegal filming")
    NON_CONSENSUAL_DISTRIBUTION = "non_consensual_distribution", _("Non-consensual distribution")
    THREAT_TO_DISTRIBUTE = "threat_to_distribute", _("Threat to distribute")
    FEAR_OF_DISTRIBUTION = "fear_of_distribution", _("Fear of distribution")
    SYNTHETIC_IMAGERY = "synthetic_imagery", _("Synthetic / deepfake sexual imagery")
    SEXTORTION = "sextortion", _("Sextortion (including body-cam phishing)")
    CYBER_SEXUAL_HARASSMENT = "cyber_sexual_harassment", _("Cyber sexual harassment")
    CHILD_EXPLOITATION_MATERIAL = "child_exploitation_material", _("Child/teen sexual exploitation material")
    LEAKED_PERSONAL_INFORMATION = "leaked_personal_information", _("Leaked personal information")
    CYBERSTALKING = "cyberstalking", _("Cyberstalking")
    DOXXING = "doxxing", _("Doxxing")


class GbvimsType(models.TextChoices):
    RAPE = "rape", _("Rape")
    SEXUAL_ASSAULT = "sexual_assault", _("Sexual assault")
    PHYSICAL_ASSAULT = "physical_assault", _("Physical assault")
    FORCED_MARRIAGE = "forced_marriage", _("Forced marriage")
    DENIAL_OF_RESOURCES = "denial_of_resources", _("Denial of resources, opportunities or services")
    PSYCHOLOGICAL_ABUSE = "psychological_abuse", _("Psychological / emotional abuse")


class DsaCategory(models.TextChoices):
    """The DSA transparency database's keywords for the kinds of illegal content Haven handles."""

    NON_CONSENSUAL_IMAGE_SHARING = "NON_CONSENSUAL_IMAGE_SHARING", _("Non-consensual image sharing")
    NON_CONSENSUAL_MATERIAL_DEEPFAKE = (
        "NON_CONSENSUAL_MATERIAL_DEEPFAKE",
        _("Non-consensual material made with AI (deepfakes)"),
    )
    CYBER_HARASSMENT = "CYBER_HARASSMENT", _("Cyber harassment")
    CYBER_STALKING = "CYBER_STALKING", _("Cyber stalking")
    CHILD_SEXUAL_ABUSE_MATERIAL = "CHILD_SEXUAL_ABUSE_MATERIAL", _("Child sexual abuse material")
    DATA_PROTECTION_AND_PRIVACY_VIOLATIONS = (
        "DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
        _("Data protection and privacy violations"),
    )


# type -> (GBVIMS core incident type, DSA transparency-database category keyword)
MAPPING: dict[str, tuple[str, str]] = {
    TfgbvType.ILLEGAL_FILMING: (GbvimsType.SEXUAL_ASSAULT, "NON_CONSENSUAL_IMAGE_SHARING"),
    TfgbvType.NON_CONSENSUAL_DISTRIBUTION: (GbvimsType.PSYCHOLOGICAL_ABUSE, "NON_CONSENSUAL_IMAGE_SHARING"),
    TfgbvType.THREAT_TO_DISTRIBUTE: (GbvimsType.PSYCHOLOGICAL_ABUSE, "NON_CONSENSUAL_IMAGE_SHARING"),
    TfgbvType.FEAR_OF_DISTRIBUTION: (GbvimsType.PSYCHOLOGICAL_ABUSE, "NON_CONSENSUAL_IMAGE_SHARING"),
    TfgbvType.SYNTHETIC_IMAGERY: (GbvimsType.PSYCHOLOGICAL_ABUSE, "NON_CONSENSUAL_MATERIAL_DEEPFAKE"),
    TfgbvType.SEXTORTION: (GbvimsType.PSYCHOLOGICAL_ABUSE, "NON_CONSENSUAL_IMAGE_SHARING"),
    TfgbvType.CYBER_SEXUAL_HARASSMENT: (GbvimsType.PSYCHOLOGICAL_ABUSE, "CYBER_HARASSMENT"),
    TfgbvType.CHILD_EXPLOITATION_MATERIAL: (GbvimsType.SEXUAL_ASSAULT, "CHILD_SEXUAL_ABUSE_MATERIAL"),
    TfgbvType.LEAKED_PERSONAL_INFORMATION: (
        GbvimsType.PSYCHOLOGICAL_ABUSE,
        "DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
    ),
    TfgbvType.CYBERSTALKING: (GbvimsType.PSYCHOLOGICAL_ABUSE, "CYBER_STALKING"),
    TfgbvType.DOXXING: (GbvimsType.PSYCHOLOGICAL_ABUSE, "CYBER_HARASSMENT"),
}


class Relationship(models.TextChoices):
    CURRENT_PARTNER = "current_partner", _("Current partner")
    FORMER_PARTNER = "former_partner", _("Former partner")
    FAMILY = "family", _("Family member")
    ACQUAINTANCE = "acquaintance", _("Acquaintance, colleague or classmate")
    ONLINE_CONTACT = "online_contact", _("Met online")
    STRANGER = "stranger", _("Stranger")
    UNKNOWN = "unknown", _("Unknown")


class SurvivorSex(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Another gender")


class AgeBand(models.TextChoices):
    """The survivor's age when the centre was contacted, in the GBVIMS bands."""

    UNDER_12 = "0-11", _("0–11")
    FROM_12 = "12-17", _("12–17")
    FROM_18 = "18-25", _("18–25")
    FROM_26 = "26-40", _("26–40")
    FROM_41 = "41-60", _("41–60")
    FROM_61 = "61+", _("61 and over")


class HarmType(models.TextChoices):
    """The harms ACOSAV counts; a survivor may report several."""

    FEAR_OF_DISTRIBUTION = "fear_of_distribution", _("Fear of distribution")
    ILLEGAL_FILMING = "illegal_filming", _("Illegal filming")
    DISTRIBUTION = "distribution", _("Distribution")
    THREATS = "threats", _("Threats to distribute")
    SYNTHETIC = "synthetic", _("Synthetic (deepfake) images")


class IntakeChannel(models.TextChoices):
    """How the survivor first reached the centre (Primero's GBV intake records it too)."""

    PHONE = "phone", _("Phone")
    IN_PERSON = "in_person", _("In person")
    PORTAL = "portal", _("Survivor portal")
    EMAIL = "email", _("E-mail")
    CHAT = "chat", _("Chat or messenger")
    REFERRAL = "referral", _("Referred by another organisation")
    OTHER = "other", _("Other")


class ReferralSource(models.TextChoices):
    """Who sent the survivor to the centre."""

    SELF = "self", _("She came herself")
    FAMILY = "family", _("Family or friend")
    POLICE = "police", _("Police")
    SCHOOL = "school", _("School or university")
    SERVICE = "service", _("Another support service")
    PLATFORM = "platform", _("An online platform")
    OTHER = "other", _("Other")


class RiskLevel(models.TextChoices):
    """The counsellor's assessment of the survivor's safety now."""

    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    IMMEDIATE = "immediate", _("In immediate danger")
