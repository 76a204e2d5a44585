"""Doctor's independent probes go out together, and what they find is still read as one: a fal key's three
free probes (pricing, billing, lock) in one check whose `http` details list all three, a locked key still
failing on the lock probe even though billing answered, a refused key failing on pricing alone; a model's
price asked at once with its look-up; the alias look-ups done in phase one and read by the alias check."""

from __future__ import annotations

from genctl.sandbox import Sandbox
from genctl.sandbox import keys as sk
from tests.test_doctor import assert_check, doctor_json, fal_only


def test_a_fal_key_check_records_its_three_probes_sent_together(genctl, sandbox: Sandbox) -> None:
    run, checks = doctor_json(
        genctl, "--provider", "fal", "-m", "fal-ai/flux/dev", env=fal_only(sandbox, sk.FAL_KEY_ADMIN)
    )
    assert run.exit_code == 0, run.stdout
    check = checks["keys.fal.env:FAL_KEY"]
    assert check["status"] == "ok", check
    calls = sorted(
        (e["method"], e["url"].split("?")[0].rsplit("/", 2)[-2:][-1]) for e in check["details"]["http"]
    )
    assert calls == [("GET", "billing"), ("GET", "pricing"), ("POST", "initiate")]
    assert sandbox.count(r"/account/billing$") == 1
    assert sandbox.count(r"/storage/upload/initiate$") == 1


def test_a_locked_key_still_fails_on_the_lock_probe(genctl, sandbox: Sandbox) -> None:
    _, checks = doctor_json(genctl, "--provider", "fal", env=fal_only(sandbox, sk.FAL_KEY_LOCKED_ADMIN))
    assert_check(checks["keys.fal.env:FAL_KEY"], "fail", "key.locked")


def test_a_refused_key_fails_on_pricing_whatever_the_others_answer(genctl, sandbox: Sandbox) -> None:
    _, checks = doctor_json(genctl, "--provider", "fal", env=fal_only(sandbox, sk.FAL_KEY_UNKNOWN))
    check = checks["keys.fal.env:FAL_KEY"]
    assert (check["status"], check["code"]) == ("fail", "key.invalid"), check


def test_a_model_check_has_its_price_and_the_alias_check_its_look_ups(genctl, sandbox: Sandbox) -> None:
    _, checks = doctor_json(
        genctl, "--provider", "fal", "-m", "fal-ai/flux/dev", env=fal_only(sandbox, sk.FAL_KEY_OK)
    )
    model = checks["models.fal.fal-ai/flux/dev"]
    assert model["status"] == "ok", model
    assert model["details"]["price"] is not None
    assert "aliases.prefetch" not in checks  # the phase-one look-ups make no check of their own
    assert checks["aliases"]["status"] == "ok", checks["aliases"]
    # every alias side on fal looked up once (phase one), none again in the alias check
    looked_up = sandbox.count(r"/v1/models$", host="fal.api")
    assert looked_up == len({r.query for r in sandbox.requests if r.path.endswith("/v1/models")})
