"""The value types of one generation: what the user asked for (`GenerationRequest`) and what will be sent
(`Plan`). They sit below generation, translate, fallback and the pre-flight, which all take them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genctl.settings import flag_seconds, money_arg, text_arg

if TYPE_CHECKING:
    from genctl.cost import Budget
    from genctl.history import BatchRef
    from genctl.providers.base import Provider
    from genctl.settings import ProviderSettings
    from genctl.values import Key


@dataclass(frozen=True)
class GenerationRequest:
    """What the user asked for, as typed."""

    prompt: str | None
    model: str | None = None
    provider: str | None = None
    params: list[str] = field(default_factory=list)  # raw `-p` items
    inputs: list[str] = field(default_factory=list)  # raw `-i` items
    output_dir: Path | None = None
    download: bool = True
    timeout: float | None = None
    validate: bool = True  # the pre-flight check against the model's catalogue entry and input schema
    wait: bool = True  # False (--no-wait): submit, record, return; `genctl result` ends it
    history: bool = True  # False (--no-history): record nothing, whatever the config says
    batch: BatchRef | None = None  # the batch item this generation runs for (genctl.batch)
    fallback: bool = True  # False (--no-fallback): only the first provider, whatever the config says
    max_cost: float | None = None  # --max-cost USD: refuse to submit an estimate over it (genctl.spend)
    budget: Budget | None = field(default=None, compare=False)  # a batch's shared --max-cost (genctl.cost)

    def __post_init__(self) -> None:
        # Checked here, for every way a request is made (argv, stdin, batch lines): never a paid submit
        # with a NaN deadline, never a traceback for a prompt that is not UTF-8.
        flag_seconds(self.timeout, "--timeout")
        text_arg(self.prompt, "the prompt")
        money_arg(self.max_cost, "--max-cost")


@dataclass(frozen=True)
class Plan:
    """The resolved request: which provider, model, key and input will be sent."""

    provider: Provider
    settings: ProviderSettings
    model: str
    key: Key  # the next key in rotation; after a generation, the key that served it
    params: dict[str, Any]
    # The names given with -i (parsed once, in genctl.generation.plan): their values are local files or
    # URLs that the submit replaces with uploads or data: URIs.
    input_keys: tuple[str, ...] = ()
