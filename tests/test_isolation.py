"""The canary pair: one test writes and commits, the next sees nothing of it."""

from sqlalchemy import func, select

from kapt_api.auth.models import User
from kapt_api.db import db

CANARY = "canary@isolation.test"


def test_canary_inserts_and_commits(make_user):
    make_user(email=CANARY)
    db.session.commit()
    assert (
        db.session.scalar(select(func.count()).select_from(User).where(User.email == CANARY)) == 1
    )


def test_canary_is_gone_in_the_next_test():
    assert (
        db.session.scalar(select(func.count()).select_from(User).where(User.email == CANARY)) == 0
    )
