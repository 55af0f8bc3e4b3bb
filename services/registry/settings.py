"""The registry's own settings, read from the environment."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RegistrySettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    # EEN's validation step: a company's contact's cooperation profile is published only once
    # the region's staff approve it (they see the queue, approve or send it back with a note).
    # Staff's own publishing is their approval. Off: a contact publishes at once.
    profile_review: bool = Field(default=False, validation_alias="MAPNET_PROFILE_REVIEW")
