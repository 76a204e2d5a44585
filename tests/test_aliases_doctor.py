"""`genctl doctor`'s alias check against the sandbox: which providers can serve each alias now."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genctl.aliases import BUILTIN
from genctl.sandbox import Sandbox
from genctl.sandbox import keys as sk

ALL = len(BUILTIN)


def doctor(genctl, box: Sandbox, *args: str, **env: str) -> tuple[Any, dict[str, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    run = genctl("doctor", "--json", *args, env={**box.env(), **env})
    assert "Traceback" not in run.stderr
    return run, {c["id"]: c for c in json.loads(run.stdout)["checks"]}


def config(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text)


def test_aliases_run_on_the_providers_that_work(genctl, sandbox: Sandbox) -> None:
    run, checks = doctor(
        genctl,
        sandbox,
        FAL_KEY=sk.FAL_KEY_LOCKED_BALANCE,
        REPLICATE_API_TOKEN=sk.REPLICATE_TOKEN_OK,
        GENCTL_FALLBACK="fal,replicate",
    )
    check = checks["aliases"]
    assert (check["category"], check["status"], check["code"]) == ("aliases", "ok", "ok")
    assert check["message"] == f"all {ALL} aliases can run on Replicate (fal.ai: key.locked)"
    assert check["details"]["aliases"]["flux-schnell"] == {
        "fal": {"model": "fal-ai/flux/schnell", "can_serve": False, "code": "key.locked"},
        "replicate": {"model": "black-forest-labs/flux-schnell", "can_serve": True, "code": None},
    }
    fallback = checks["aliases.fallback"]
    assert (fallback["status"], fallback["code"]) == ("warn", "key.locked")
    assert (
        fallback["message"]
        == "fallback fal.ai → Replicate is configured, but fal.ai (key.locked) cannot serve now"
    )
    assert run.exit_code == 1  # the locked key itself fails


def test_aliases_are_grouped_by_where_they_can_run(genctl, sandbox: Sandbox, hermetic_env: Path) -> None:
    config(hermetic_env, '[aliases.mine]\nfal = "fal-ai/aura-flow"\n')
    run, checks = doctor(genctl, sandbox, FAL_KEY=sk.FAL_KEY_OK, REPLICATE_API_TOKEN=sk.REPLICATE_TOKEN_OK)
    assert run.exit_code == 0, run.stdout
    names = ", ".join(BUILTIN)
    assert checks["aliases"]["message"] == f"on fal.ai and Replicate: {names}; on fal.ai: mine"
    assert "aliases.fallback" not in checks
    env = {**sandbox.env(), "FAL_KEY": sk.FAL_KEY_OK, "REPLICATE_API_TOKEN": ""}
    assert "[✓] Aliases (1 check passed)\n" in genctl("doctor", env=env).stdout  # a passing area: one line
    text = genctl("doctor", "--verbose", env=env).stdout
    assert (
        f"[✓] Aliases\n    ✓ aliases: all {ALL + 1} aliases can run on fal.ai (Replicate: key.missing)\n"
        in text
    )


def test_no_provider_able_to_serve_is_said_once_and_not_counted_twice(genctl, sandbox: Sandbox) -> None:
    run, checks = doctor(genctl, sandbox, FAL_KEY=sk.FAL_KEY_LOCKED_BALANCE)
    check = checks["aliases"]
    assert (check["status"], check["code"]) == ("skip", "key.locked")  # the key check is the problem
    assert (
        check["message"] == "no provider can serve an alias now (fal.ai: key.locked; Replicate: key.missing)"
    )
    assert run.stdout and json.loads(run.stdout)["summary"]["fail"] == 1


def test_offline_the_aliases_are_not_judged(genctl, sandbox: Sandbox) -> None:
    _, checks = doctor(
        genctl, sandbox, "--offline", FAL_KEY=sk.FAL_KEY_OK, REPLICATE_API_TOKEN=sk.REPLICATE_TOKEN_OK
    )
    assert (checks["aliases"]["status"], checks["aliases"]["message"]) == (
        "skip",
        "which providers can serve each alias was not checked",
    )
    assert sandbox.requests == []


def test_an_alias_as_the_default_model_checks_its_model_on_each_provider(
    genctl, sandbox: Sandbox, hermetic_env: Path
) -> None:
    config(
        hermetic_env,
        '[defaults]\nimage_model = "mine"\n'
        '[aliases.mine]\nfal = "fal-ai/flux-nope"\nreplicate = "black-forest-labs/flux-dev"\n',
    )
    run, checks = doctor(genctl, sandbox, FAL_KEY=sk.FAL_KEY_OK, REPLICATE_API_TOKEN=sk.REPLICATE_TOKEN_OK)
    assert "models.fal.mine" not in checks  # the alias's models are checked, not its name
    assert checks["models.fal.fal-ai/flux-nope"]["code"] == "model.not_found"
    assert checks["models.replicate.black-forest-labs/flux-dev"]["status"] == "ok"
    mine = checks["aliases"]["details"]["aliases"]["mine"]
    assert mine["fal"] == {"model": "fal-ai/flux-nope", "can_serve": False, "code": "model.not_found"}
    assert mine["replicate"]["can_serve"] is True
    assert checks["aliases"]["message"].endswith("; on Replicate: mine")
    assert run.exit_code == 1
