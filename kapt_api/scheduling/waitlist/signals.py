"""What the waitlist tells the packages above it (offer messages, webhooks). Each is
sent inside the change's own transaction, after it is flushed, so a receiver's writes
commit or roll back with it. The waitlist never imports its subscribers.

- `waitlist_offered`: sender the WaitlistOffer (status offered, its hold written),
  `now=`, `messages=` (the clinic's waitlist_offers_enabled: whether the patient is to
  be told, or only the front desk sees it).
- `waitlist_accepted`: sender the WaitlistOffer (status accepted), `appointment=` the
  booked Appointment, `now=`.
- `waitlist_offer_closed`: sender the WaitlistOffer, ended without a booking, `status=`
  (expired, declined, taken: its entry ended), `now=`.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

waitlist_offered = _signals.signal("waitlist-offered")
waitlist_accepted = _signals.signal("waitlist-accepted")
waitlist_offer_closed = _signals.signal("waitlist-offer-closed")
