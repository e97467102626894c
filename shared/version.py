"""The project's version: printed by ``run.py --version``, recorded in settings.json and in
every SavedModel's model card. CHANGELOG.md says what each version changed."""

VERSION = '1.1.0'
