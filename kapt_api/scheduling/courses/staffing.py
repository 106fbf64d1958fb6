"""Who can staff a session: the roles each session type needs, matched to the people
booked or on a course's care team (DOMAIN.md: a prescriber on site for every dose)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from kapt_api.auth.models import Role
from kapt_api.protocols.definition import ProtocolDefinition, RoleRequirement, SessionKind

# Who is best asked first when several people could fill a role: the scarcest last.
ROLE_PREFERENCE = (Role.NURSE, Role.THERAPIST, Role.PRESCRIBER)


def session_name(kind: SessionKind) -> str:
    return f"{kind.value.replace('_', ' ')} session"


def role_names(requirement: RoleRequirement) -> str:
    """ "a prescriber", "a nurse or a prescriber"."""
    names = [role.value.replace("_", " ") for role in ROLE_PREFERENCE if role in requirement.any_of]
    names += sorted(r.value for r in requirement.any_of if r not in ROLE_PREFERENCE)
    return " or ".join(f"a {name}" for name in names)


def match_roles(
    requirements: Sequence[RoleRequirement], people: Sequence[tuple[uuid.UUID, frozenset[Role]]]
) -> dict[int, uuid.UUID]:
    """As many requirements as possible filled, each by a different person
    (requirement index -> person): a maximum bipartite matching by augmenting paths."""
    if len(requirements) == 1:
        # The paths below fill a lone requirement with the first person who can: asked of
        # every slot a search offers (test_staffing holds the two equal).
        wanted = requirements[0].any_of
        return next(({0: person} for person, roles in people if wanted & roles), {})
    return _augmented(requirements, people)


def _augmented(
    requirements: Sequence[RoleRequirement], people: Sequence[tuple[uuid.UUID, frozenset[Role]]]
) -> dict[int, uuid.UUID]:
    owner: dict[uuid.UUID, int] = {}

    def fill(index: int, tried: set[uuid.UUID]) -> bool:
        for person, roles in people:
            if person in tried or not requirements[index].any_of & roles:
                continue
            tried.add(person)
            if person not in owner or fill(owner[person], tried):
                owner[person] = index
                return True
        return False

    for index in range(len(requirements)):
        fill(index, set())
    return {index: person for person, index in owner.items()}


CARE_TEAM_ROLES = {
    "prescriber_id": Role.PRESCRIBER,
    "therapist_id": Role.THERAPIST,
    "nurse_id": Role.NURSE,
}


def care_team_errors(
    team: Mapping[str, tuple[uuid.UUID, frozenset[Role]] | None], definition: ProtocolDefinition
) -> dict[str, list[str]]:
    """What is wrong with a course's care team (field -> messages): each member holds the
    role their field names, and together they can fill the required roles of every
    session type of the protocol, so a booking can always default to them."""
    errors: dict[str, list[str]] = {}
    for field, role in CARE_TEAM_ROLES.items():
        member = team.get(field)
        if member is not None and role not in member[1]:
            errors[f"care_team.{field}"] = [f"This staff member is not a {role.value}."]
    members = [member for member in team.values() if member is not None]
    for session_type in definition.session_types:
        requirements = session_type.required_roles
        filled = match_roles(requirements, members)
        missing = [requirements[i] for i in range(len(requirements)) if i not in filled]
        if missing:
            needed = " and ".join(role_names(r) for r in missing)
            errors.setdefault("care_team", []).append(
                f"The care team cannot staff this protocol's {session_name(session_type.kind)}s: "
                f"they also need {needed}."
            )
    return errors
