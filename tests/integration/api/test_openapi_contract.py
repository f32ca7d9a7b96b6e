"""The OpenAPI document describes the /api/v2 API as it really answers.

The last test lets schemathesis loose on every /api/v2 route of a live server, with every
check it has: server errors, undocumented statuses, content types and headers, responses
that do not match their schema, valid requests refused and invalid ones accepted, methods
that are not allowed, and authentication that is not enforced.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.live_app import SEEDED_TOKEN, LiveApp, serving_seeded

# Routes that need no credentials; every other /api/v2 route needs a role (viewer or admin;
# which one each needs is tested in test_route_roles.py).
PUBLIC = {("/api/v2/auth/login", "post"), ("/api/v2/auth/logout", "post")}

# Beside the command line below. Each exception says why the schema cannot say it.
SCHEMATHESIS_CONFIG = """
[generation]
# Runs are the same every time: no example database carried from one run to the next.
database = "none"

[dictionaries.recordings]
values = ["audio-1"]

[dictionaries.recent]
values = ["2026-11-20", "2026-11-21T00:00:00Z", "2026-11-27T00:00:00+08:00"]

# A cursor is opaque: only a next_cursor the API returned is valid, which no schema can
# say, so a drawn one is a 400. It is left empty here (no cursor); bad cursors are covered
# by test_parameter_bounds.py.
[[operations]]
include-path-regex = "^/api/v2/(sessions|chat-history/\\\\{device_id\\\\})$"
parameters = { "query.cursor" = "" }

# from must be before to, and per day at most 366 days apart: no schema relates two
# parameters, so a valid-looking pair may be a 400.
[[operations]]
include-path = "/api/v2/stats"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "404", "429"]

[operations.parameters]
"query.from" = { dictionary = "recent", probability = 0.5 }
"query.to" = { dictionary = "recent", probability = 0.5 }

# Whether a range is satisfiable depends on the recording's length (416 otherwise); the
# seed's recording is drawn half of the time, so 200 and 206 are checked too.
[[operations]]
include-path = "/api/v2/audio/{audio_id}"
parameters = { "path.audio_id" = { dictionary = "recordings", probability = 0.5 } }
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "404", "416", "429"]

# Erasing an agent erases its history, not the agent: its name and settings stay (they are
# configuration), so its erasure preview still answers 200 after the DELETE, rightly. The
# stateful phase would link GET /api/v2/agents to that DELETE and call it a deleted resource
# still served (use_after_free; "--checks all" outranks turning the check off per route).
[[operations]]
include-path-regex = "^/api/v2/agents/"
phases.stateful.enabled = false

# A user's name must be printable (no JSON Schema pattern says exactly that) and free, and
# the last admin stays: a valid-looking change may be a 400, a 404 or a 409.
[[operations]]
include-path-regex = "^/api/v2/users"
checks.positive_data_acceptance.expected-statuses = [
    "2xx", "400", "401", "403", "404", "409", "429"
]
"""


# schemathesis probes every admin route with the same wrong name and password (HTTP Basic)
# and expects 401 each time; the throttle, tested on its own in tests/integration/auth,
# would answer 429 from the sixth.
PATIENT_THROTTLE = {"failed_sign_ins_per_user": 1000, "failed_sign_ins_per_address": 100_000}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The seeded app on SQLite."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('contract') / 'store.db'}"
    with serving_seeded(url, auth=PATIENT_THROTTLE) as app:
        yield app


@pytest.fixture(scope="module")
def document(live: LiveApp) -> dict[str, Any]:
    """The OpenAPI document the app serves."""
    served: dict[str, Any] = httpx.get(f"{live.base_url}/openapi.json", timeout=30).json()
    return served


def v2_operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) for every /api/v2 operation."""
    return [
        (path, method, operation)
        for path, operations in document["paths"].items()
        if path.startswith("/api/v2/")
        for method, operation in operations.items()
    ]


def admin_operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """The /api/v2 operations that need credentials."""
    return [op for op in v2_operations(document) if (op[0], op[1]) not in PUBLIC]


def test_the_document_declares_bearer_basic_and_the_session_cookie(
    document: dict[str, Any],
) -> None:
    schemes = document["components"]["securitySchemes"]
    assert (schemes["bearer"]["type"], schemes["bearer"]["scheme"]) == ("http", "bearer")
    assert (schemes["basic"]["type"], schemes["basic"]["scheme"]) == ("http", "basic")
    cookie = schemes["sessionCookie"]
    assert (cookie["type"], cookie["in"], cookie["name"]) == ("apiKey", "cookie", "xiaozhi_session")


def test_no_operation_promises_a_422(document: dict[str, Any]) -> None:
    assert [(p, m) for p, m, op in v2_operations(document) if "422" in op["responses"]] == []
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_every_guarded_operation_accepts_any_of_the_three_schemes_with_one_role(
    document: dict[str, Any],
) -> None:
    for path, method, operation in admin_operations(document):
        roles = operation["security"][0]["bearer"]
        assert roles in ([], ["admin"]), (path, method)
        assert operation["security"] == [
            {"bearer": roles},
            {"basic": roles},
            {"sessionCookie": roles},
        ], (path, method)


def test_every_admin_only_operation_documents_403_in_the_error_shape(
    document: dict[str, Any],
) -> None:
    error = {"$ref": "#/components/schemas/ErrorBody"}
    for path, method, operation in admin_operations(document):
        if operation["security"][0]["bearer"] == ["admin"]:
            forbidden = operation["responses"]["403"]
            assert forbidden["content"]["application/json"]["schema"] == error, (path, method)


def test_every_guarded_operation_documents_401_and_429_in_the_error_shape(
    document: dict[str, Any],
) -> None:
    error = {"$ref": "#/components/schemas/ErrorBody"}
    for path, method, operation in admin_operations(document):
        responses = operation["responses"]
        for status in ("401", "429"):
            assert responses[status]["content"]["application/json"]["schema"] == error, (
                path,
                method,
                status,
            )
        assert "Retry-After" in responses["429"]["headers"]
        assert "WWW-Authenticate" in responses["401"]["headers"]


def test_sign_in_documents_wrong_passwords_and_the_throttle(document: dict[str, Any]) -> None:
    responses = document["paths"]["/api/v2/auth/login"]["post"]["responses"]
    assert {"200", "400", "401", "429"} <= set(responses)


def test_page_sizes_are_documented_as_1_to_100(document: dict[str, Any]) -> None:
    limits = [
        parameter["schema"]
        for _, _, operation in v2_operations(document)
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "limit"
    ]
    assert len(limits) == 6
    assert {(s["type"], s["minimum"], s["maximum"]) for s in limits} == {("integer", 1, 100)}


def test_every_json_answer_has_a_typed_schema(document: dict[str, Any]) -> None:
    for path, method, operation in v2_operations(document):
        success = next(status for status in operation["responses"] if status.startswith("2"))
        answer = operation["responses"][success]["content"]
        if "application/json" in answer:
            assert "$ref" in answer["application/json"]["schema"], (path, method)


def test_export_and_audio_declare_their_media_types(document: dict[str, Any]) -> None:
    export = document["paths"]["/api/v2/export"]["get"]["responses"]["200"]["content"]
    assert set(export) == {"application/x-ndjson", "text/csv", "text/plain"}
    audio = document["paths"]["/api/v2/audio/{audio_id}"]["get"]["responses"]
    assert set(audio["200"]["content"]) == set(audio["206"]["content"]) == {"audio/wav"}
    assert "416" in audio


def test_schemathesis_finds_nothing_wrong_with_any_v2_route(live: LiveApp, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_CONFIG)
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{live.base_url}/openapi.json",
        "--checks",
        "all",
        "--include-path-regex",
        "^/api/v2/",
        "--header",
        f"Authorization: Bearer {SEEDED_TOKEN}",
        "--max-examples",
        "20",
        "--seed",
        "1",
        # One worker: the machine has two cores, one of them serving.
        "--workers",
        "1",
        "--request-timeout",
        "10",
    ]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
