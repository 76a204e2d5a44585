"""`genctl generate --batch`: items in parallel across the key pool, failures that do not stop the others,
the summary and exit code, JSON Lines, --resume, and the progress bar on a TTY."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from genctl.history import History
from genctl.sandbox import Sandbox
from genctl.sandbox import keys as sk
from genctl.values import fingerprint
from tests.conftest import run_on_tty
from tests.support import PNG, signal_when_seen

FAL_KEYS = f"{sk.FAL_KEY_OK},{sk.FAL_KEY_OK_2}"


def env(box: Sandbox) -> dict[str, str]:
    return {**box.env(), "FAL_KEY": FAL_KEYS, "REPLICATE_API_TOKEN": sk.REPLICATE_TOKEN_OK}


def submits(box: Sandbox) -> dict[str | None, int]:
    """Paid submits seen by the sandbox, per key fingerprint."""
    found: dict[str | None, int] = {}
    for r in box.requests:
        if r.method == "POST" and (r.host == "fal.queue" or r.path.endswith("/predictions")):
            found[r.key_fingerprint] = found.get(r.key_fingerprint, 0) + 1
    return found


def write(path: Path, *lines: str | dict) -> Path:  # type: ignore[type-arg]
    path.write_text("".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines))
    return path


def test_batch_runs_every_item_across_the_keys(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    batch = write(
        tmp_path / "prompts.jsonl",
        "a fox",
        {"prompt": "a cat", "name": "cat", "params": {"num_images": 2}},
        "",
        {"prompt": "a dog", "model": "black-forest-labs/flux-schnell", "params": {"seed": 3}},
        "a bird",
        "a fish",
    )
    run = genctl(
        "generate",
        "--batch",
        str(batch),
        "-m",
        "fal-ai/flux/schnell",
        "-o",
        "out",
        "--concurrency",
        "3",
        env=env(sandbox),
    )
    assert run.exit_code == 0, run.stderr
    assert run.stderr == "5 succeeded, 0 failed\n"
    assert len(run.lines) == 6  # the cat has two images
    assert all((tmp_path / line).read_bytes().startswith(PNG) for line in run.lines)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        Path(line).name for line in run.lines
    )
    # Four fal items over two fal keys in rotation; the dog went to Replicate.
    assert submits(sandbox) == {
        fingerprint(sk.FAL_KEY_OK): 2,
        fingerprint(sk.FAL_KEY_OK_2): 2,
        fingerprint(sk.REPLICATE_TOKEN_OK): 1,
    }
    jobs = History().recent(limit=None)
    assert len(jobs) == 5 and {j.status for j in jobs} == {"succeeded"}
    assert {j.batch.file for j in jobs if j.batch} == {str(batch.resolve())}
    cat = next(j for j in jobs if j.prompt == "a cat")
    assert (
        cat.params == {"prompt": "a cat", "num_images": 2}
        and cat.batch
        and cat.batch.item.startswith("name:cat#")
    )


def test_json_lines_one_per_item(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    batch = write(tmp_path / "b.txt", "a fox", "a cat", "a dog")
    run = genctl("generate", "--batch", str(batch), "--json", "-m", "fal-ai/flux/schnell", env=env(sandbox))
    assert run.exit_code == 0, run.stderr
    docs = [json.loads(line) for line in run.lines]
    assert sorted(d["item"]["number"] for d in docs) == [1, 2, 3]
    assert all(d["ok"] and d["provider"] == "fal" and len(d["outputs"]) == 1 for d in docs)
    assert {d["item"]["line"] for d in docs} == {1, 2, 3} and all(d["item"]["name"] is None for d in docs)


def test_failures_are_reported_and_do_not_stop_the_others(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    batch = write(
        tmp_path / "b.jsonl",
        "a fox",
        {"prompt": "a cat", "params": {"num_images": 99}},
        {"prompt": "[sandbox:fail] a bird", "name": "bird"},
        "a dog",
        {"prompt": "a cow", "params": {"num_images": 0}},
        "an owl",
    )
    run = genctl("generate", "--batch", str(batch), "-m", "fal-ai/flux/schnell", "--json", env=env(sandbox))
    assert run.exit_code == 1
    *items, final = [json.loads(line) for line in run.lines]
    assert len(items) == 6
    failed = sorted((d["item"]["line"], d["error"]["code"]) for d in items if not d["ok"])
    assert failed == [(2, "payload.invalid"), (3, "generation.failed"), (5, "payload.invalid")]
    assert final["ok"] is False
    assert final["error"]["code"] == "generation.failed"
    assert final["error"]["message"] == "3 succeeded, 3 failed: payload.invalid ×2, generation.failed ×1"
    assert final["error"]["details"] == {
        "total": 6,
        "failed": 3,
        "codes": {"payload.invalid": 2, "generation.failed": 1},
    }
    assert "Warning: item 2 (line 2) failed [payload.invalid]: " in run.stderr
    assert "Warning: item 3 (line 3, bird) failed [generation.failed] (request " in run.stderr
    assert (
        "Error [generation.failed]: 3 succeeded, 3 failed: payload.invalid ×2, generation.failed ×1"
        in run.stderr
    )
    assert "then run the same command again with --resume" in run.stderr


def test_resume_skips_what_succeeded_and_reruns_the_rest(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    batch = write(
        tmp_path / "b.jsonl", "a fox", {"prompt": "a cat", "params": {"num_images": 9}}, "a dog", "a fox"
    )
    first = genctl(
        "generate", "--batch", str(batch), "-m", "fal-ai/flux/schnell", "-o", "out", env=env(sandbox)
    )
    assert first.exit_code == 1
    assert sum(submits(sandbox).values()) == 3  # the cat was stopped by the pre-flight
    # Fix the cat, and insert a line on top: the others keep their identity, the two foxes stay two.
    write(
        tmp_path / "b.jsonl",
        "a new one",
        "a fox",
        {"prompt": "a cat", "params": {"num_images": 2}},
        "a dog",
        "a fox",
    )
    again = genctl(
        "generate",
        "--batch",
        str(batch),
        "-m",
        "fal-ai/flux/schnell",
        "-o",
        "out",
        "--resume",
        "--json",
        env=env(sandbox),
    )
    assert again.exit_code == 0, again.stderr
    docs = {d["item"]["line"]: d for d in map(json.loads, again.lines)}
    assert sorted(line for line, d in docs.items() if d.get("skipped")) == [2, 4, 5]
    assert all(docs[line]["outputs"][0]["path"] for line in (2, 4, 5))
    assert len(docs[3]["outputs"]) == 2 and docs[1]["ok"]
    assert sum(submits(sandbox).values()) == 5  # only the new line and the fixed cat were paid for
    assert again.stderr.endswith("2 succeeded, 3 skipped (succeeded before), 0 failed\n")
    # Text mode lists the skipped items' files too, so stdout always names every output.
    text = genctl(
        "generate",
        "--batch",
        str(batch),
        "-m",
        "fal-ai/flux/schnell",
        "-o",
        "out",
        "--resume",
        env=env(sandbox),
    )
    assert len(text.lines) == 6 and all((tmp_path / line).is_file() for line in text.lines)


def test_resume_finishes_jobs_left_pending_instead_of_paying_again(
    genctl, sandbox: Sandbox, tmp_path: Path
) -> None:
    batch = write(tmp_path / "b.txt", "[sandbox:queue=1] a fox", "[sandbox:queue=1] a cat")
    submitted = genctl(
        "generate", "--batch", str(batch), "-m", "fal-ai/flux/schnell", "--no-wait", env=env(sandbox)
    )
    assert submitted.exit_code == 0, submitted.stderr
    assert len(submitted.lines) == 2 and submitted.stderr == "2 submitted, 0 failed\n"
    finished = genctl(
        "generate",
        "--batch",
        str(batch),
        "-m",
        "fal-ai/flux/schnell",
        "-o",
        "out",
        "--resume",
        "--json",
        env=env(sandbox),
    )
    assert finished.exit_code == 0, finished.stderr
    docs = [json.loads(line) for line in finished.lines]
    assert all(d["recovered"] and d["status"] == "succeeded" for d in docs)
    assert sorted(d["request_id"] for d in docs) == sorted(submitted.lines)
    assert all(Path(d["outputs"][0]["path"]).read_bytes().startswith(PNG) for d in docs)
    assert sum(submits(sandbox).values()) == 2


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            ["a fox", "{not json"],
            ":2: not valid JSON (Expecting property name enclosed in double quotes at column 2).",
        ),
        (
            ['{"prompt": "a", "size": 2}'],
            ":1: unknown field 'size'; known: prompt, model, provider, params, inputs, name.",
        ),
        (['{"prompt": "a", "params": [1]}'], ":1: params must be an object of name: value."),
        (['{"prompt": 3}'], ":1: prompt must be a string."),
        (
            ['{"prompt": "a", "name": "x"}', '{"prompt": "b", "name": "x"}'],
            ":2: the name 'x' is already used on line 1.",
        ),
        (
            ['{"prompt": "a", "params": {"bad key": 1}}'],
            ":1: -p 'bad key:=1': 'bad key' is not a parameter name.",
        ),
        (["", "  "], "holds no items."),
    ],
)
def test_a_bad_batch_file_is_a_usage_error_naming_the_line(
    genctl, tmp_path: Path, lines: list[str], message: str
) -> None:
    batch = write(tmp_path / "b.jsonl", *lines)
    run = genctl("generate", "--batch", str(batch), env={"FAL_KEY": sk.FAL_KEY_OK})
    assert run.exit_code == 2
    assert run.stderr.startswith("Error [usage.invalid]: ")
    assert message in run.stderr.splitlines()[0]


def test_batch_option_mistakes(genctl, tmp_path: Path) -> None:
    batch = write(tmp_path / "b.txt", "a fox")
    cases = [
        (["generate", "a fox", "--batch", str(batch)], "Give a PROMPT or --batch FILE, not both."),
        (["generate", "a fox", "--resume"], "--resume only applies to --batch."),
        (["generate", "a fox", "--concurrency", "2"], "--concurrency only applies to --batch."),
        (["generate", "--batch", "nope.txt"], "The batch file nope.txt does not exist."),
        (
            ["generate", "--batch", str(batch), "--resume", "--no-history"],
            "--resume reads the job history, which is off here (--no-history).",
        ),
    ]
    for args, message in cases:
        run = genctl(*args, env={"FAL_KEY": sk.FAL_KEY_OK})
        assert run.exit_code == 2, args
        assert run.stderr.startswith(f"Error [usage.invalid]: {message}"), run.stderr


def test_dry_run_prints_one_request_per_item(genctl, tmp_path: Path) -> None:
    batch = write(
        tmp_path / "b.jsonl", "a fox", {"prompt": "a cat", "model": "black-forest-labs/flux-schnell"}
    )
    run = genctl(
        "generate",
        "--batch",
        str(batch),
        "--dry-run",
        "--no-validate",
        env={"FAL_KEY": sk.FAL_KEY_OK, "REPLICATE_API_TOKEN": sk.REPLICATE_TOKEN_OK},
    )
    assert run.exit_code == 0, run.stderr
    assert len(run.lines) == 2
    assert "queue.fal.run/fal-ai/flux/schnell" in run.lines[0] and "api.replicate.com" in run.lines[1]


def test_progress_bar_on_a_tty_and_results_still_on_stdout(sandbox: Sandbox, tmp_path: Path) -> None:
    batch = write(tmp_path / "b.txt", "a fox", "a cat", "[sandbox:fail] a dog")
    run = run_on_tty(
        "generate", "--batch", str(batch), "-m", "fal-ai/flux/schnell", "-o", "out", env=env(sandbox)
    )
    assert run.exit_code == 1
    lines = run.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith("out/") for line in lines), run.screen
    assert "Generating" in run.screen and "3/3" in run.screen
    assert "item 3 (line 3) failed [generation.failed]" in run.screen
    assert "2 succeeded, 1 failed: generation.failed ×1" in run.screen


def test_ctrl_c_cancels_the_running_jobs(sandbox: Sandbox, tmp_path: Path) -> None:
    batch = write(tmp_path / "b.txt", "[sandbox:hang] a fox", "[sandbox:hang] a cat", "a dog", "an owl")
    args = ["generate", "--batch", str(batch), "-m", "fal-ai/flux/schnell", "--concurrency", "2"]
    proc = signal_when_seen(args, box=sandbox, env=env(sandbox), pattern=r"/status(/stream)?$", count=2)
    stdout, stderr = proc.stdout, proc.stderr
    assert proc.returncode == 130, stderr
    assert stdout == ""
    assert (
        "Error [interrupted]: Interrupted: 0 of 4 items done, 2 of 2 running job(s) cancelled, 2 not started."
        in stderr
    )
    assert len(sandbox.cancels) == 2
    assert sum(submits(sandbox).values()) == 2


def test_concurrency_comes_from_the_config(genctl, sandbox: Sandbox, tmp_path: Path) -> None:
    batch = write(tmp_path / "b.txt", "a fox", "a cat", "a dog")
    config = tmp_path / "c.toml"
    config.write_text("[defaults]\nconcurrency = 1\n")
    args = ("--config", str(config), "generate", "--batch", str(batch), "--json", "-m", "fal-ai/flux/schnell")
    run = genctl(*args, env=env(sandbox))
    assert run.exit_code == 0, run.stderr
    found = [sandbox.job(json.loads(line)["request_id"]) for line in run.lines]
    jobs = sorted((job for job in found if job is not None), key=lambda job: job.created)
    assert len(jobs) == 3
    # One at a time: each job was submitted after the one before it had completed.
    for earlier, later in itertools.pairwise(jobs):
        assert earlier.completed is not None and later.created >= earlier.completed
    bad = genctl("generate", "--batch", str(batch), env={**env(sandbox), "GENCTL_CONCURRENCY": "0"})
    assert bad.exit_code == 2
    assert bad.stderr.startswith(
        "Error [config.invalid]: GENCTL_CONCURRENCY must be a whole number, 1 or more, not 0"
    )


def test_a_line_with_nan_fails_alone_and_resume_runs_it_once_fixed(
    genctl, sandbox: Sandbox, tmp_path: Path
) -> None:
    """README: a number no request can carry fails its item, not the batch; nothing is sent for it."""
    batch = tmp_path / "b.jsonl"
    batch.write_text('a fox\n{"prompt": "a cat", "params": {"seed": NaN}}\nan owl\n', encoding="utf-8")
    args = ("generate", "--batch", str(batch), "-m", "fal-ai/flux/schnell", "--json")
    run = genctl(*args, env=env(sandbox))
    assert run.exit_code == 1
    *items, final = map(json.loads, run.lines)  # items in the order they end
    assert sorted((d["item"]["line"], d["ok"]) for d in items) == [(1, True), (2, False), (3, True)]
    assert final["error"]["message"] == "2 succeeded, 1 failed: usage.invalid ×1"
    said = f"{batch}:2: -p 'seed:=NaN': NaN is not a number a request can carry (NaN, Infinity or too large)."
    assert f"Warning: item 2 (line 2) failed [usage.invalid]: {said}" in run.stderr.splitlines()
    assert sum(submits(sandbox).values()) == 2
    dry = genctl(*args, "--dry-run", env=env(sandbox))  # every request or none
    assert (dry.exit_code, dry.stdout.count('"dry_run"')) == (2, 0), dry.stdout
    batch.write_text('a fox\n{"prompt": "a cat", "params": {"seed": 7}}\nan owl\n', encoding="utf-8")
    run = genctl(*args, "--resume", env=env(sandbox))
    assert run.exit_code == 0, run.stderr
    done = sorted((d["item"]["line"], d.get("skipped", False)) for d in map(json.loads, run.lines))
    assert done == [(1, True), (2, False), (3, True)]
    assert sum(submits(sandbox).values()) == 3
