"""Outcome measures over HTTP."""

from __future__ import annotations

from tests.monitoring.conftest import API, ARRIVAL, PROBLEM


def test_record_list_and_trend(client, team, make_course, auth_headers, now):
    course = make_course()
    path = f"{API}/courses/{course.id}/measures"
    headers = auth_headers(team.nurse.user)
    body = {"instrument": "phq9", "items": [2] * 9, "measured_at": ARRIVAL.isoformat()}
    created = client.post(path, json=body, headers=headers)
    assert created.status_code == 201
    assert (created.get_json()["total"], created.get_json()["loinc"]) == (18, "44261-6")
    listed = client.get(path, query_string={"instrument": "phq9"}, headers=headers)
    assert [m["total"] for m in listed.get_json()] == [18]
    trend = client.get(f"{path}/trend", headers=headers).get_json()
    assert trend[0]["instrument"] == "phq9" and trend[0]["severity"] == "moderately severe"
    alerts = client.get(f"{API}/alerts", headers=auth_headers(team.prescriber.user)).get_json()
    assert [a["kind"] for a in alerts] == ["self_harm_answer"]


def test_refusals(client, team, make_course, make_team, auth_headers, now):
    course = make_course()
    path = f"{API}/courses/{course.id}/measures"
    bad = {"instrument": "gad7", "items": [5] * 7, "measured_at": ARRIVAL.isoformat()}
    answer = client.post(path, json=bad, headers=auth_headers(team.nurse.user))
    assert answer.status_code == 422 and answer.content_type == PROBLEM
    assert any(key.startswith("items") for key in answer.get_json()["errors"])
    assert client.get(path, headers=auth_headers(team.front_desk.user)).status_code == 403
    elsewhere = make_team("Birch Clinic")
    assert client.get(path, headers=auth_headers(elsewhere.nurse.user)).status_code == 404
