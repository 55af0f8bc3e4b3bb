"""Settings from the environment (and a .env file), one object for every process."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from contracts.envelope import REGION_PATTERN
from mapnet.runtime.credentials import (
    SERVICE_USER,
    service_password,
    service_passwords,
    service_user,
    with_login,
)


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
    # The embedded mailbox `mapnet up` starts for a region unless SMTP_URL names a relay.
    smtp_url: str | None = Field(default=None, validation_alias="SMTP_URL")
    smtp_port: int = Field(default=2525, validation_alias="MAPNET_SMTP_PORT")

    # The first region's portal; `mapnet up` gives each further region the next port. 0: any
    # free port (reported by `mapnet status`).
    http_port: int = Field(default=8080, ge=0, validation_alias="MAPNET_HTTP_PORT")
    # A service process's /healthz, /readyz and /metrics (mapnet/runtime/probes.py): off when
    # not set; 0 for any free port. `mapnet up` gives each further region the next port.
    metrics_port: int | None = Field(default=None, ge=0, validation_alias="MAPNET_METRICS_PORT")
    # Where they listen: this machine only, unless a machine elsewhere scrapes (0.0.0.0 in a
    # container whose port only the cluster reaches).
    metrics_host: str = Field(default="127.0.0.1", validation_alias="MAPNET_METRICS_HOST")

    # TLS for the embedded servers (`mapnet up`): their certificate and key, and the authority
    # that signed the hub's (checked by the regions' links). Clients trust it through
    # SSL_CERT_FILE when it is not a public one.
    tls_cert: Path | None = Field(default=None, validation_alias="MAPNET_TLS_CERT")
    tls_key: Path | None = Field(default=None, validation_alias="MAPNET_TLS_KEY")
    tls_ca: Path | None = Field(default=None, validation_alias="MAPNET_TLS_CA")

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

    @property
    def state_file(self) -> Path:
        """What `mapnet up` runs on this machine: regions, their URLs, process ids."""
        return self.home / "up.json"

    def running(self) -> dict[str, Any]:
        """The state `mapnet up` wrote, unless NATS_URL points elsewhere; empty if none."""
        if self.state_file.exists() and not self.nats_url:
            doc: dict[str, Any] = json.loads(self.state_file.read_text())
            return doc
        return {}

    def region_urls(self) -> list[tuple[str, str]]:
        """Each region this machine runs (or the configured ones) with its NATS URL."""
        if doc := self.running():
            return [(r["id"], r["nats_url"]) for r in doc["regions"]]
        url = self.nats_url or f"nats://127.0.0.1:{self.nats_port}"
        return [(region, url) for region in self.regions]

    def nats_url_for(self, region: str | None) -> tuple[str, str]:
        """The NATS URL of a region (the first one if none is named), with the credentials
        `mapnet up` keeps for it, and the region id: what a command-line tool connects to."""
        wanted = region or self.region
        for rid, url in self.region_urls():
            if rid == wanted:
                return self.logged_in(url, rid), rid
        return self.logged_in(self.nats_url or f"nats://127.0.0.1:{self.nats_port}", wanted), wanted

    def mongo_url_for(self, region: str | None) -> tuple[str, str]:
        """The database URL of a region (the first one if none is named) and the region id."""
        wanted = region or self.region
        for found in self.running().get("regions", []):
            if found["id"] == wanted and found.get("mongo_url"):
                return str(found["mongo_url"]), wanted
        return self.mongo_url or f"mongodb://127.0.0.1:{self.mongo_port}", wanted

    def logged_in(self, url: str, region: str) -> str:
        """The URL as given if it carries a login (NATS_URL), else with the region's service
        login kept on this machine."""
        if "@" in url:
            return url
        password = service_password(self.region_home(region))
        return with_login(url, SERVICE_USER, password) if password else url

    def logged_in_as(self, url: str, region: str, service: str) -> str:
        """The URL as given if it carries a login (NATS_URL), else with the login of the
        service's own user kept on this machine (`mapnet serve <service>`), whose rights are
        only what the service does."""
        if "@" in url:
            return url
        password = service_passwords(self.region_home(region), [service]).get(service)
        return with_login(url, service_user(service), password) if password else url
