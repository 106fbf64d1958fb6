"""New rows' ids (db.new_id): unguessable, and in the order the rows were made, which keeps
each index's new entries on its last pages (docs/benchmarks.md)."""

from __future__ import annotations

import uuid

from kapt_api.db import new_id


def test_ids_are_version_7_distinct_and_increase_in_creation_order():
    ids = [new_id() for _ in range(20_000)]
    assert {i.version for i in ids} == {7}
    assert all(type(i) is uuid.UUID for i in ids)  # the drivers' own type, bound natively
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)


def test_no_id_follows_from_the_one_before():
    # Two ids of one millisecond differ in their 32 random bits, not only in a counter.
    first, second = new_id(), new_id()
    assert first.int & 0xFFFF_FFFF != second.int & 0xFFFF_FFFF
    assert second.int - first.int > 1
