"""Static files storage that also works before collectstatic has run."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Hashed, compressed names (cacheable for a year) from collectstatic's manifest, as start.sh
    and App Service's build produce. With no manifest yet (runserver on a fresh clone), the
    plain names, which WhiteNoise then serves straight from static/ (WHITENOISE_USE_FINDERS)."""

    def stored_name(self, name: str) -> str:
        if not self.hashed_files:
            return name
        return super().stored_name(name)
