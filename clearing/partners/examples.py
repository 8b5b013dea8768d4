"""A realistic example alliance: the demo installs it, the agreement editor offers it as a start."""

EXAMPLE_AGREEMENT = """\
# Bündnisvereinbarung (Beispiel): Wer bekommt welche Fälle, mit welcher Einwilligung, welche Angaben?
partners:
  - partner: opferberatung
    name: Opferberatung für Betroffene rechter und rassistischer Gewalt
    kind: counselling
    requires_consent: counselling
    fields: [incident, description, place, urls, perpetrator, affected_role, already_done, files, contact]
    response_days: 5
  - partner: polizei-staatsschutz
    name: Polizeipräsidium, Staatsschutz (Ansprechstelle für Amts- und Mandatsträger)
    kind: police
    incident_types: [extreme_violence, assault, property_damage, threat, doxxing, stalking, insult_defamation, hate_speech, mass_mailing]
    requires_consent: police
    fields: [incident, description, place, urls, perpetrator, files, assessment]
    response_days: 3
    four_eyes: true
    acute_override: true
  - partner: personalamt
    name: Personalamt der Stadtverwaltung
    kind: employer
    employer_duty: true
    requires_consent: employer
    fields: [incident, description, affected_role, already_done, assessment]
    response_days: 7
  - partner: antidiskriminierung
    name: Antidiskriminierungsstelle
    kind: antidiscrimination
    motives: [racism, antisemitism, anti_muslim, antiziganism, anti_black, xenophobia, misogyny, lgbtiq_hostility, disability_hostility, social_status]
    requires_consent: counselling
    fields: [incident, description, affected_role]
    response_days: 10
"""
