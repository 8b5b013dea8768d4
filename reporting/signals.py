"""What reporting announces to the features that act on a case (reporting imports none of them).

Receivers run inside the sender's transaction: what they write commits or rolls back with the
change that caused it.
"""

from __future__ import annotations

from blinker import Namespace

signals = Namespace()

# A reporter changed consents: sent with the session, `case=` and `changed=` (the consent names).
# clearing.referrals cancels or withdraws the referrals that depended on a withdrawn consent.
consents_changed = signals.signal("komma.consents-changed")
