"""gitops-platform core: catalog and stack model, renderer, writer, validation.

Pure Python; never imports pulumi, so the CLI, the Pulumi program and the
tests produce the same bytes from the same inputs. The package itself imports
nothing: import the module that holds what you need (``gitops.project``,
``gitops.render``, ``gitops.workflow``...), so that a command loads only what
it uses (a render with nothing to do starts in a fifth of the time).
"""
