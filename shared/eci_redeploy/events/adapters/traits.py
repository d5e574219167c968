"""What an adapter declares about its payloads, beside its parser: each adapter module may set
`TRAITS = Traits(...)`; `traits(kind)` reads it for the adapter named `kind` (its NAME; the module is
NAME with `_` for `-`). Authentication (events/auth.py) and the webhook's notes (functions/webhook.py)
ask here instead of keeping their own lists of adapter names, so a new format declares its traits in
its own file. Standard library only: the webhook's authentication imports it."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

_KIND = re.compile(r"[a-z][a-z0-9-]{0,39}")


@dataclass(frozen=True)
class Traits:
    # Nobody signs these payloads (no platform signature, no HMAC): only the webhook token vouches for
    # them, so a push's digest is the registry's to confirm (planning/confirm.py).
    unsigned: bool = False
    # The payload may name any image (the CI call): a token alone (which sits in registries' webhook
    # settings and URLs) is not enough, the HMAC signature is required.
    needs_hmac: bool = False


NONE = Traits()


def traits(kind: str) -> Traits:
    """The traits of the adapter named `kind`; a kind no adapter has (a TimerTick, "unknown") has none."""
    if not _KIND.fullmatch(kind):
        return NONE
    name = f"{__package__}.{kind.replace('-', '_')}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:  # the adapter is there but cannot be imported: never read as "no traits"
            raise
        return NONE
    found = getattr(module, "TRAITS", NONE)
    return found if isinstance(found, Traits) else NONE
