"""Settings from the environment (and a .env file), one object for every process."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from contracts.envelope import REGION_PATTERN


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    regions: Annotated[list[str], NoDecode] = Field(
        default=["tallinn"], validation_alias="MAPNET_REGIONS"
    )
    network: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="MAPNET_NETWORK",
        description="The regions this one is linked with (itself included); empty: on its own",
    )
    nats_url: str | None = Field(default=None, validation_alias="NATS_URL")
    mongo_url: str | None = Field(default=None, validation_alias="MONGO_URL")
    nats_port: int = Field(default=4222, validation_alias="MAPNET_NATS_PORT")
    mongo_port: int = Field(default=27017, validation_alias="MAPNET_MONGO_PORT")
    home: Path = Field(default=Path(".mapnet"), validation_alias="MAPNET_HOME")
    log_level: str = Field(default="INFO", validation_alias="MAPNET_LOG_LEVEL")
    max_deliveries: int = Field(default=5, ge=1, validation_alias="MAPNET_MAX_DELIVERIES")
    relay_enabled: bool = Field(default=True, validation_alias="MAPNET_RELAY_ENABLED")
    request_concurrency: int = Field(
        default=16, ge=1, le=1000, validation_alias="MAPNET_REQUEST_CONCURRENCY"
    )
    request_timeout_s: float = Field(default=5.0, gt=0, validation_alias="MAPNET_REQUEST_TIMEOUT")
    graceful_timeout_s: float = Field(
        default=15.0, gt=0, validation_alias="MAPNET_GRACEFUL_TIMEOUT"
    )
    # --- notify ---
    smtp_url: str | None = Field(default=None, validation_alias="SMTP_URL")
    smtp_port: int = Field(default=2525, validation_alias="MAPNET_SMTP_PORT")
    smtp_timeout_s: float = Field(
        default=10, gt=0, validation_alias="MAPNET_SMTP_TIMEOUT",
        description="Longest one mail may take to hand over, whole SMTP transaction",
    )  # fmt: skip
    mail_from: str = Field(
        default="MAPnet <noreply@mapnet.eu>", validation_alias="MAPNET_MAIL_FROM"
    )
    public_url: str = Field(
        default="http://localhost:8080",
        validation_alias="MAPNET_PUBLIC_URL",
        description="Where unsubscribe links point",
    )
    notify_secret: str = Field(
        default="mapnet-development-secret",
        validation_alias="MAPNET_NOTIFY_SECRET",
        description="Signs unsubscribe tokens; set your own in production",
    )
    notify_senders: int = Field(default=48, ge=1, le=200, validation_alias="MAPNET_NOTIFY_SENDERS")
    webhook_give_up_s: float = Field(
        default=3600, gt=0, validation_alias="MAPNET_WEBHOOK_GIVE_UP_S"
    )
    webhook_timeout_s: float = Field(default=5, gt=0, validation_alias="MAPNET_WEBHOOK_TIMEOUT")
    retry_base_s: float = Field(default=2, gt=0, validation_alias="MAPNET_RETRY_BASE_S")
    notify_tick_s: float = Field(default=3600, gt=0, validation_alias="MAPNET_NOTIFY_TICK_S")
    expiry_notice_days: int = Field(default=14, ge=1, validation_alias="MAPNET_EXPIRY_NOTICE_DAYS")

    hub_port: int = Field(default=4220, validation_alias="MAPNET_HUB_PORT")
    hub_leaf_port: int = Field(default=7422, validation_alias="MAPNET_HUB_LEAF_PORT")

    @field_validator("regions", "network", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("regions", "network")
    @classmethod
    def _region_ids(cls, value: list[str], info: ValidationInfo) -> list[str]:
        import re

        bad = [r for r in value if not re.match(REGION_PATTERN, r)]
        if bad or (not value and info.field_name == "regions"):
            raise ValueError(f"region ids must match [a-z]+, got {bad or value}")
        return value

    @cached_property
    def region(self) -> str:
        """The first region: the one a single-region process serves."""
        return self.regions[0]

    def region_home(self, region: str) -> Path:
        return self.home / region
