"""match_roles fills a lone requirement as its augmenting paths would."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from kapt_api.auth.models import Role
from kapt_api.protocols.definition import RoleRequirement
from kapt_api.scheduling.courses import staffing

ROLES = st.sets(st.sampled_from([Role.NURSE, Role.THERAPIST, Role.PRESCRIBER]))
PEOPLE = st.lists(st.tuples(st.sampled_from([uuid.UUID(int=i) for i in range(4)]), ROLES))


@given(wanted=ROLES.filter(bool), people=PEOPLE)
def test_a_lone_requirement_is_filled_as_the_augmenting_paths_fill_it(wanted, people):
    requirements = [RoleRequirement(frozenset(wanted))]
    people = [(person, frozenset(roles)) for person, roles in people]
    assert staffing.match_roles(requirements, people) == staffing._augmented(requirements, people)
