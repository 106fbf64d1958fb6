"""Outcome measures over HTTP."""

from __future__ import annotations

from datetime import timedelta

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


def test_the_course_shows_its_trend_to_the_care_team(client, team, make_course, auth_headers, now):
    course = make_course()
    nurse = auth_headers(team.nurse.user)
    course_url = f"{API}/courses/{course.id}"
    empty = client.get(course_url, headers=nurse)
    assert [t["points"] for t in empty.get_json()["measures_trend"]] == [[], []]
    path = f"{course_url}/measures"
    for day, answer in ((-7, 3), (0, 1)):
        measured_at = ARRIVAL + timedelta(days=day)
        body = {"instrument": "phq9", "items": [answer] * 9, "measured_at": measured_at.isoformat()}
        assert client.post(path, json=body, headers=nurse).status_code == 201
    shown = client.get(course_url, headers=nurse)
    phq9, gad7 = shown.get_json()["measures_trend"]
    assert (phq9["instrument"], phq9["first"], phq9["latest"], phq9["change"]) == (
        "phq9",
        27,
        9,
        -18,
    )
    assert gad7["points"] == []
    assert (
        shown.get_json()["measures_trend"] == client.get(f"{path}/trend", headers=nurse).get_json()
    )
    assert shown.headers["ETag"] != empty.headers["ETag"]
    desk = client.get(course_url, headers=auth_headers(team.front_desk.user))
    assert desk.status_code == 200 and "measures_trend" not in desk.get_json()
