"""A referral the partner has opened is shredded when the reporter withdraws consent (issue 13, item 5).

The attack: the partner opened the packet, the reporter withdrew the consent it needed; with the
database, the partner organisation's key and the office key, the packet and its files still
opened. Now the referral key's sealed copies are destroyed with every ciphertext under it.
"""

from __future__ import annotations

import contextlib

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import crypto
from clearing.referrals.models import Referral, ReferralFile, ReferralUpdate
from core.config import Config
from tests.factories import (
    Alliance,
    build_alliance,
    decrypt_files,
    decrypt_packet,
    office_private_key,
    partner_private_key,
    pdf_with,
    referral_key_for_partner,
    referral_to,
)
from tests.leaks import dump_database, dump_values
from tests.web import (
    change_consents,
    logged_in_client,
    mailbox_client,
    offered_files,
    officer_path,
    post,
    refer,
    submit_report_form,
)

DESCRIPTION = "Eine rassistische Mail an das Bürgerbüro."
FEEDBACK = "Erstgespräch mit der Person vereinbart"


@pytest.fixture
def alliance(session: Session, config: Config) -> Alliance:
    return build_alliance(session, config, "astadt", "Astadt")


def _referral_keys_in_database(app: Flask, referral_id: str, private_keys: tuple[bytes, ...]) -> list[bytes]:
    """Every value of every table that opens to this referral's key under one of the private keys."""
    found = []
    for value in dump_values(dump_database(app)):
        if isinstance(value, bytes | memoryview):
            for private_key in private_keys:
                with contextlib.suppress(crypto.CryptoError):
                    found.append(
                        crypto.open_sealed(private_key, bytes(value), purpose="referral-key", record_id=referral_id)
                    )
    return found


def test_an_opened_referral_is_shredded_when_consent_is_withdrawn(
    app: Flask, session: Session, config: Config, alliance: Alliance
) -> None:
    reported = submit_report_form(
        app, session, alliance.town, description=DESCRIPTION, files=[("beleg.pdf", pdf_with("beleg"))]
    )
    officer = officer_path(app, alliance, reported.case_id)
    files = list(offered_files(officer, reported.case_id, "opferberatung").values())
    assert refer(officer, reported.case_id, "opferberatung", files=files).status_code == 303
    referral = referral_to(session, reported.case_id, alliance.partner_ids["opferberatung"])
    path = f"/partner/weiterleitung/{referral.id}"

    # The counselling centre opens the packet and answers with feedback.
    partner = logged_in_client(app, alliance.partners["opferberatung"])
    assert DESCRIPTION in partner.get(path).get_data(as_text=True)
    assert post(partner, path, {"state": "accepted", "text": FEEDBACK}).status_code == 303
    partner_key = partner_private_key(session, config, alliance.partners["opferberatung"])
    office_key = office_private_key(session, alliance.town)
    session.expire_all()
    opened = session.get_one(Referral, referral.id)
    assert opened.opened_at is not None
    key = referral_key_for_partner(opened, partner_key)
    assert DESCRIPTION in str(decrypt_packet(opened, key))
    assert decrypt_files(session, opened, key) == [("beleg.pdf", pdf_with("beleg"))]
    # Before: the database holds the referral key, sealed to the partner and to the office.
    assert _referral_keys_in_database(app, referral.id, (partner_key, office_key)) == [key, key]

    # The reporter withdraws the counselling consent.
    change_consents(mailbox_client(app, reported.receipt_code), employer=True)

    session.expire_all()
    withdrawn = session.get_one(Referral, referral.id)
    assert withdrawn.state == "withdrawn"
    # DB + partner key + office key: no sealed key to open, no packet, no files, no feedback text.
    assert (withdrawn.sealed_key_partner, withdrawn.sealed_key_office, withdrawn.packet_ciphertext) == (
        None,
        None,
        None,
    )
    assert (
        session.scalar(select(func.count()).select_from(ReferralFile).where(ReferralFile.referral_id == referral.id))
        == 0
    )
    updates = session.scalars(select(ReferralUpdate).where(ReferralUpdate.referral_id == referral.id)).all()
    assert [u.ciphertext for u in updates] == [None]
    assert [u.state for u in updates] == ["accepted"]  # the state history stays
    # No value anywhere in the database opens to the referral key with either private key, so
    # the packet copied before the withdrawal does not open either.
    assert _referral_keys_in_database(app, referral.id, (partner_key, office_key)) == []

    # The partner's page says it is over, what is gone and what is left, and shows no content.
    response = partner.get(path)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Einwilligung zurückgezogen" in page
    assert "lassen sich auch mit Ihrem Schlüssel nicht mehr öffnen" in page
    assert DESCRIPTION not in page
    assert FEEDBACK not in page
    assert "beleg.pdf" not in page
    assert partner.get(f"{path}/datei/{files[0]}").status_code == 404
    # The office's case page still shows the referral's state, without the feedback text.
    office_page = officer.get(f"/clearing/fall/{reported.case_id}")
    assert office_page.status_code == 200
    assert "zurückgezogen (Einwilligung widerrufen)" in office_page.get_data(as_text=True)
    assert FEEDBACK not in office_page.get_data(as_text=True)
