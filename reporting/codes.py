"""The report's taxonomies (DOMAIN.md): stable codes with translated labels."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

REPORTER_ROLES = {
    "affected": _l("Ich bin selbst betroffen"),
    "witness": _l("Ich habe es beobachtet"),
    "colleague": _l("Ich bin Kollegin oder Kollege der betroffenen Person"),
    "supervisor": _l("Ich bin Vorgesetzte oder Vorgesetzter der betroffenen Person"),
}

AFFECTED_ROLES = {
    "mayor": _l("Bürgermeisterin oder Bürgermeister"),
    "council_member": _l("Mitglied des Gemeinderats, Stadtrats oder Kreistags"),
    "admin_staff": _l("Beschäftigte oder Beschäftigter der Verwaltung"),
    "frontline_staff": _l("Beschäftigte oder Beschäftigter mit Publikumsverkehr (z. B. Bürgerbüro)"),
    "volunteer_official": _l("Ehrenamtliche Amtsträgerin oder ehrenamtlicher Amtsträger"),
    "family_member": _l("Familienangehörige oder Familienangehöriger"),
    "other": _l("Andere Rolle"),
}

CHANNELS = {
    "office": _l("Im Dienstgebäude oder am Arbeitsplatz"),
    "council_session": _l("In einer Rats- oder Ausschusssitzung"),
    "public_event": _l("Bei einer öffentlichen Veranstaltung"),
    "public_space": _l("Im öffentlichen Raum"),
    "home": _l("An der Wohnung"),
    "phone": _l("Am Telefon"),
    "letter": _l("Per Brief"),
    "email": _l("Per E-Mail"),
    "social_media": _l("In sozialen Medien"),
    "other_online": _l("Anderswo im Internet"),
    "other": _l("Anderswo"),
}

# In precedence order: the first that applies is the primary type (RIAS/MIA rule).
INCIDENT_TYPES = {
    "extreme_violence": _l("Extreme Gewalt (z. B. Angriff mit Waffe)"),
    "assault": _l("Körperlicher Angriff"),
    "property_damage": _l("Sachbeschädigung"),
    "threat": _l("Bedrohung"),
    "doxxing": _l("Veröffentlichung persönlicher Daten"),
    "stalking": _l("Nachstellung (Stalking)"),
    "insult_defamation": _l("Beleidigung oder Verleumdung"),
    "hate_speech": _l("Hassrede oder Hetze"),
    "discrimination": _l("Diskriminierung"),
    "mass_mailing": _l("Massenzuschriften"),
    "other": _l("Anderes"),
}

MOTIVES = {
    "racism": _l("Rassismus"),
    "antisemitism": _l("Antisemitismus"),
    "anti_muslim": _l("Muslimfeindlichkeit"),
    "antiziganism": _l("Antiziganismus"),
    "anti_black": _l("Anti-Schwarzer Rassismus"),
    "xenophobia": _l("Fremdenfeindlichkeit"),
    "misogyny": _l("Frauenfeindlichkeit"),
    "lgbtiq_hostility": _l("Queerfeindlichkeit (LSBTIQ*)"),
    "disability_hostility": _l("Behindertenfeindlichkeit"),
    "social_status": _l("Abwertung wegen des sozialen Status"),
    "political_engagement": _l("Feindschaft wegen des Amtes oder politischer Arbeit"),
    "other": _l("Anderes Motiv"),
    "unknown": _l("Weiß ich nicht"),
}

PERPETRATORS = {
    "unknown": _l("Unbekannt"),
    "citizen": _l("Bürgerin oder Bürger"),
    "colleague": _l("Kollegin oder Kollege"),
    "superior": _l("Vorgesetzte oder Vorgesetzter"),
    "council_member": _l("Ratsmitglied"),
    "organised_group": _l("Organisierte Gruppe"),
    "other": _l("Andere"),
}

# Each consent by its name (reporting.content.CONSENTS holds what the reporter agrees to).
CONSENT_SHORT = {
    "counselling": _l("Weitergabe an eine Beratungsstelle"),
    "police": _l("Weitergabe an die Polizei"),
    "employer": _l("Information des Arbeitgebers"),
    "prosecutor": _l("Weitergabe an die Staatsanwaltschaft"),
    "statistics": _l("Anonyme Statistik"),
    "no_forwarding": _l("Keine Weitergabe"),
}

CONTACT_CHOICES = {
    "mailbox": _l("Nur über das Postfach (empfohlen, am sichersten)"),
    "email": _l("Zusätzlich per E-Mail"),
    "phone": _l("Zusätzlich per Telefon"),
}


STATUS_WORDS = {
    "received": _l("Eingegangen"),
    "in_review": _l("Wird geprüft"),
    "assessed": _l("Geprüft"),
    "referred": _l("Weitergeleitet"),
    "awaiting_feedback": _l("Weitergeleitet, Rückmeldung ausstehend"),
    "closed": _l("Abgeschlossen"),
    "withdrawn": _l("Zurückgezogen"),
}

# The reporter's timeline (reporting.timeline); "forwarded" is completed by the partner kind.
EVENT_WORDS = {
    "received": _l("Ihre Meldung ist eingegangen"),
    "in_review": _l("Ihre Meldung wird geprüft"),
    "assessed": _l("Ihre Meldung wurde geprüft"),
    "forwarded": _l("Weitergeleitet an"),
    "closed": _l("Der Fall wurde abgeschlossen"),
    "reopened": _l("Der Fall wurde wieder aufgenommen"),
    "withdrawn": _l("Die Meldung wurde zurückgezogen"),
    "reporter_message": _l("Sie haben eine Nachricht gesendet"),
    "office_message": _l("Nachricht der Clearingstelle"),
    "consent_granted": _l("Einwilligung erteilt"),
    "consent_withdrawn": _l("Einwilligung zurückgezogen"),
    "deletion_requested": _l("Sie haben die Löschung beantragt"),
}
