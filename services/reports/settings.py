"""The reports service's own settings, read from the environment (and a .env file) by its
declaration. Each part keeps its block (feedback, figures, reports)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReportsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # --- feedback ---
    survey_answer_days: float = Field(
        default=60.0,
        gt=0,
        le=366,
        validation_alias="MAPNET_SURVEY_ANSWER_DAYS",
        description="How long after its occasion a survey takes answers (days; a fraction in "
        "tests); a survey whose occasion is older is not opened",
    )

    # --- figures ---
    figures_check_s: float = Field(
        default=3600.0,
        gt=0,
        validation_alias="MAPNET_FIGURES_CHECK_S",
        description="How often the service looks for a month that has ended without its "
        "figures published (seconds): it publishes them then, once",
    )
