"""Notify's own settings, read from the environment (and a .env file) by its declaration."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

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
    notify_secret: str | None = Field(
        default=None,
        validation_alias="MAPNET_NOTIFY_SECRET",
        description="Signs unsubscribe links; unset, one is made per installation on first start",
    )
    notify_senders: int = Field(default=48, ge=1, le=200, validation_alias="MAPNET_NOTIFY_SENDERS")
    webhook_give_up_s: float = Field(
        default=3600, gt=0, validation_alias="MAPNET_WEBHOOK_GIVE_UP_S"
    )
    webhook_allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="MAPNET_WEBHOOK_ALLOW_HOSTS",
        description="Hosts webhooks may reach although not public (local testing), comma-separated",
    )

    @field_validator("webhook_allow_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    webhook_timeout_s: float = Field(default=5, gt=0, validation_alias="MAPNET_WEBHOOK_TIMEOUT")
    webhooks_per_partner: int = Field(
        default=20, ge=1, le=1000, validation_alias="MAPNET_WEBHOOKS_PER_PARTNER",
        description="Active webhook subscriptions one partner may hold; one more is refused",
    )  # fmt: skip
    retry_base_s: float = Field(default=2, gt=0, validation_alias="MAPNET_RETRY_BASE_S")
    notify_tick_s: float = Field(default=3600, gt=0, validation_alias="MAPNET_NOTIFY_TICK_S")
    meeting_reminder_minutes: int = Field(
        default=15, ge=1, le=60 * 24 * 60, validation_alias="MAPNET_MEETING_REMINDER_MINUTES",
        description="How long before a scheduled meeting its two sides are reminded by mail",
    )  # fmt: skip
    meeting_reminder_tick_s: float = Field(
        default=60, gt=0, validation_alias="MAPNET_MEETING_REMINDER_TICK_S",
        description="How often notify looks for meetings to remind of",
    )  # fmt: skip
    expiry_notice_days: int = Field(default=14, ge=1, validation_alias="MAPNET_EXPIRY_NOTICE_DAYS")

    @property
    def smtp(self) -> str:
        """Where mail is handed over: SMTP_URL, else the embedded mailbox of `mapnet up`."""
        return self.smtp_url or f"smtp://127.0.0.1:{self.smtp_port}"
