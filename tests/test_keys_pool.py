"""KeyPool and its state file, with an injected clock: rotation, failover marks, cool-downs, recovery."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from genctl.errors import CredentialError, RateLimitError, error
from genctl.keys import KeyPool, describe
from genctl.keys.state import KeyStore
from genctl.values import Key
from tests.support import Clock

T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC


def fal_key(n: int, account: str | None = None) -> Key:
    secret = f"00000000-0000-4000-8000-{n:012x}:{n:032x}"
    return Key(provider="fal", label=f"ci-{n}", source="config", _secret=secret, account=account)


LOCKED = error("key.locked", "fal locked the account: Exhausted balance", fix="Top up.", provider="fal")
INVALID = error("key.invalid", "fal does not know the key", fix="Create a new key.", provider="fal")
LIMITED = error("rate.limited", "fal is rate limiting this key", fix="Wait.", provider="fal")


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> KeyStore:
    return KeyStore(tmp_path / "state", clock=clock)


def pool(store: KeyStore, *keys: Key, cooldown: float = 600.0) -> KeyPool:
    return KeyPool("fal", keys, store=store, cooldown=cooldown)


def test_round_robin_is_shared_by_every_pool_on_the_same_state(store: KeyStore) -> None:
    keys = [fal_key(1), fal_key(2), fal_key(3)]
    # A new KeyPool per acquire, as a new process would build it.
    taken = [pool(store, *keys).acquire().label for _ in range(7)]
    assert taken == ["ci-1", "ci-2", "ci-3", "ci-1", "ci-2", "ci-3", "ci-1"]
    assert pool(store, *keys).peek() == keys[1]
    assert pool(store, *keys).peek() == keys[1]  # peeking moves nothing


def test_threads_taking_keys_at_once_lose_no_update(store: KeyStore) -> None:
    keys = [fal_key(n) for n in range(1, 5)]
    taken: list[str] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(10):
            label = pool(store, *keys).acquire().label
            with lock:
                taken.append(label)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken.count(key.label) for key in keys) == [10, 10, 10, 10]


def test_a_failed_key_is_skipped_until_its_cooldown_ends(store: KeyStore, clock: Clock) -> None:
    a, b = fal_key(1), fal_key(2)
    assert pool(store, a, b, cooldown=600).fail(a, INVALID) == [a]
    assert [pool(store, a, b).acquire() for _ in range(3)] == [b, b, b]
    view = pool(store, a, b).views()[0]
    assert (view.state, view.code, view.since, view.until) == ("failed", "key.invalid", T0, T0 + 600)
    assert view.reason == INVALID.message
    clock.now = T0 + 599
    assert pool(store, a, b).views()[0].state == "failed"
    assert pool(store, a, b, cooldown=60).views()[0].state == "usable"  # a changed setting counts at once
    clock.now = T0 + 600
    assert pool(store, a, b).views()[0].state == "usable"
    assert {pool(store, a, b).acquire().label for _ in range(2)} == {"ci-1", "ci-2"}


def test_recover_puts_a_key_back_at_once(store: KeyStore) -> None:
    a, b = fal_key(1), fal_key(2)
    pool(store, a, b).fail(a, INVALID)
    pool(store, a, b).recover(a)
    assert [view.state for view in pool(store, a, b).views()] == ["usable", "usable"]


def test_a_lock_marks_every_key_of_the_account(store: KeyStore) -> None:
    a, b, c, d = fal_key(1, "acme"), fal_key(2, "acme"), fal_key(3, "other"), fal_key(4)
    marked = pool(store, a, b, c, d).fail(a, LOCKED)
    assert marked == [a, b]
    views = pool(store, a, b, c, d).views()
    assert [view.state for view in views] == ["failed", "failed", "usable", "usable"]
    assert views[1].reason == "same account (acme) as ci-1"
    # An invalid key is that key's problem alone.
    assert pool(store, a, b, c, d).fail(c, INVALID) == [c]


def test_accounts_learned_from_the_provider_count_for_locks(store: KeyStore) -> None:
    a, b, c = fal_key(1), fal_key(2), fal_key(3)
    pool(store, a, b, c).learn_accounts({a: "acme", b: "acme", c: "other"})
    assert pool(store, a, b, c).fail(a, LOCKED) == [a, b]
    assert pool(store, a, b, c).views()[2].account == "other"


def test_rate_limited_key_cools_down_and_another_account_takes_over(store: KeyStore, clock: Clock) -> None:
    a, b, c = fal_key(1, "acme"), fal_key(2, "acme"), fal_key(3, "other")
    p = pool(store, a, b, c)
    p.cool(a, 5.0, LIMITED)
    assert p.switch_from(a) == c  # not b: same account, same limit
    view = p.views()[0]
    assert (view.state, view.until) == ("cooling", T0 + 5)
    clock.now = T0 + 5
    assert p.views()[0].state == "usable"


def test_no_switch_when_every_other_key_shares_the_account(store: KeyStore) -> None:
    a, b = fal_key(1, "acme"), fal_key(2, "acme")
    p = pool(store, a, b)
    p.cool(a, None, LIMITED)
    assert p.switch_from(a) is None
    assert p.views()[0].until == T0 + 30  # no retry hint: the default rest


def test_only_cooling_keys_left_is_a_rate_limit_with_the_wait(store: KeyStore) -> None:
    a, b = fal_key(1), fal_key(2)
    pool(store, a, b).cool(a, 8.0, LIMITED)
    pool(store, a, b).fail(b, INVALID)
    with pytest.raises(RateLimitError) as caught:
        pool(store, a, b).acquire()
    assert caught.value.details["retry_after"] == 8.0


def test_all_failed_lists_each_key_why_and_since_when(store: KeyStore, clock: Clock) -> None:
    a, b = fal_key(1, "acme"), fal_key(2)
    pool(store, a, b).fail(a, LOCKED)
    clock.now = T0 + 240
    pool(store, a, b).fail(b, INVALID)
    clock.now = T0 + 300
    with pytest.raises(CredentialError) as caught:
        pool(store, a, b).acquire()
    err = caught.value
    assert (err.code, err.exit_code) == ("key.invalid", 3)  # the latest failure's code
    assert err.message.splitlines() == [
        "Every fal key (2) has failed:",
        "  ci-1 (0000…0001): failed (key.locked) since 2026-01-01 00:00:00 UTC (5 min ago), "
        "will be tried again at 2026-01-01 00:10:00 UTC: fal locked the account: Exhausted balance",
        "  ci-2 (0000…0002): failed (key.invalid) since 2026-01-01 00:04:00 UTC (60 s ago), "
        "will be tried again at 2026-01-01 00:14:00 UTC: fal does not know the key",
    ]
    assert err.fix == (
        "Top up. Create a new key. `genctl keys status --check` puts fixed keys back in rotation at once; "
        "unchecked, a failed key is tried again 10 min after it failed."
    )
    assert [k["state"] for k in err.details["keys"]] == ["failed", "failed"]


def test_state_file_holds_fingerprints_only_and_is_private(store: KeyStore, tmp_path: Path) -> None:
    a, b = fal_key(1, "acme"), fal_key(2)
    p = pool(store, a, b)
    p.acquire()
    # Provider errors name the key masked; the state keeps the label only.
    p.fail(a, error("key.locked", f"fal locked the account of key {a}: Exhausted balance", provider="fal"))
    text = store.path.read_text()
    for key in (a, b):
        for part in (key.reveal(), *key.reveal().split(":"), key.masked):
            assert part not in text
    assert "fal locked the account of key ci-1: Exhausted balance" in text
    document = json.loads(text)
    assert document["version"] == 1
    assert set(document["providers"]["fal"]["keys"]) == {a.fingerprint}
    assert document["providers"]["fal"]["next"] == 1
    if os.name != "nt":
        assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(store.folder.stat().st_mode) == 0o700


def test_a_damaged_state_file_is_ignored_and_rewritten(store: KeyStore) -> None:
    store.folder.mkdir(parents=True)
    store.path.write_text("{not json")
    a = fal_key(1)
    assert pool(store, a).acquire() == a
    assert json.loads(store.path.read_text())["providers"]["fal"]["next"] == 0


def test_forget_drops_a_key_and_other_providers_are_untouched(store: KeyStore) -> None:
    a = fal_key(1)
    token = Key(provider="replicate", label="r", source="env", _secret="r8_" + "x" * 37)
    KeyPool("replicate", [token], store=store).acquire()
    pool(store, a).fail(a, INVALID)
    pool(store, a).forget(a)
    assert pool(store, a).views()[0].state == "usable"
    assert store.read("replicate").keys[token.fingerprint].last_used == T0


def test_describe_usable_key() -> None:
    from genctl.keys import KeyView

    assert describe(KeyView(fal_key(1)), T0) == "ci-1 (0000…0001): usable"


@pytest.mark.parametrize(
    ("secret", "provider", "warning"),
    [
        ("00000000-0000-4000-8000-000000000001:5a4d0000000000000000000000000001", "fal", None),
        ("abc:def", "fal", "not the usual <uuid>:<32 hex> shape"),
        ("abcdef", "fal", "no ':': a fal key is <key_id>:<key_secret>"),
        ("r8_" + "a" * 37, "replicate", None),
        ("r8_short", "replicate", "not the usual r8_ + 40 characters shape"),
    ],
)
def test_shape_warning(secret: str, provider: str, warning: str | None) -> None:
    key = Key(provider=provider, label="k", source="env", _secret=secret)
    assert key.shape_warning == warning


def test_an_unwritable_state_dir_keeps_the_state_in_memory(tmp_path: Path, clock: Clock) -> None:
    blocked = tmp_path / "state"
    blocked.write_text("a file where the state folder should be")
    store = KeyStore(blocked, clock=clock)
    a, b = fal_key(1), fal_key(2)
    assert [pool(store, a, b).acquire() for _ in range(3)] == [a, b, a]  # rotation still works in-process
    pool(store, a, b).fail(b, INVALID)
    assert pool(store, a, b).acquire() == a
    assert store.problem is not None and f"cannot write the key state in {blocked}" in store.problem
    assert blocked.read_text() == "a file where the state folder should be"


def test_rotation_is_written_without_waiting_for_the_disk(
    store: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key state is advisory and rewritten on every take: it is never fsync'd (a batch of 200 took
    200 syncs of it), so a disk whose sync fails does not cost the rotation."""

    def no_sync(fd: int) -> None:
        raise AssertionError("the key state was fsync'd")

    monkeypatch.setattr(os, "fsync", no_sync)
    keys = [fal_key(1), fal_key(2)]
    KeyPool("fal", keys, store=store).acquire()
    assert store.problem is None
    assert KeyPool("fal", keys, store=store).acquire() == keys[1]  # the position reached the file
    assert json.loads(store.path.read_text())["providers"]["fal"]["next"] == 0


def test_a_keys_derived_values_are_the_same_each_time_and_for_an_equal_key() -> None:
    """Mask, fingerprint and format problem are computed once per Key (a batch asks thousands of times)."""
    broken = Key(provider="fal", label="half", source="env", _secret="no-colon-here")
    again = Key(provider="fal", label="half", source="env", _secret="no-colon-here")
    assert broken.format_problem is broken.format_problem
    assert broken.format_problem == again.format_problem is not None
    assert broken.fingerprint == again.fingerprint and broken.masked == again.masked
    assert broken == again and hash(broken) == hash(again)
    assert "no-colon-here" not in repr(broken) + str(broken) + repr(vars(broken).get("masked"))
