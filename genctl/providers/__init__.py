"""The provider core: one home per provider.

`registry` (every provider fact, on the ground floor), `base` (the Provider protocol and job value
types), `fal` / `replicate` (pure request building and response parsing), `_common` (error-body helpers
both share), `factory` (`get_provider`), `*_catalog` and `sources` (the model catalogues), `accounts`
(free key probes), `uploads` (`-i` files to provider storage). This face imports nothing, so that
`genctl.providers.registry` stays cheap to import. Adding a provider: docs/adding-a-provider.md.
"""
