"""The portal's own settings, read from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PortalSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    http_host: str = Field(default="127.0.0.1", validation_alias="MAPNET_HTTP_HOST")
    # The first region's port; with several regions in one process, each the next one. 0: any
    # free port (tests), reported by `mapnet status`.
    http_port: int = Field(default=8080, validation_alias="MAPNET_HTTP_PORT")
    session_hours: float = Field(default=12.0, validation_alias="MAPNET_SESSION_HOURS")
    # Demo mode: the sign-in page lists the demo accounts (never in production).
    demo: bool = Field(default=False, validation_alias="MAPNET_DEMO")
    # Where the links in mails (invitations, password resets) point; unset, the address the
    # portal listens on. Behind a proxy, the address people reach it at.
    public_url: str | None = Field(default=None, validation_alias="MAPNET_PUBLIC_URL")
    # The language of the pages for people who chose none and whose browser asks for none the
    # portal has: a catalogue under services/portal/locale (see i18n.py).
    language: str = Field(default="en", validation_alias="MAPNET_PORTAL_LANGUAGE")
    # Where the catalogues are (locale/<language>/LC_MESSAGES/messages.po); unset, the
    # portal's own services/portal/locale.
    locale_dir: Path | None = Field(default=None, validation_alias="MAPNET_PORTAL_LOCALE_DIR")
    # Cookies only over HTTPS (Secure, named __Host-...); unset: so when MAPNET_PUBLIC_URL is an
    # https:// address. Listening beyond loopback needs MAPNET_PUBLIC_URL (web.checked).
    secure_cookies: bool | None = Field(default=None, validation_alias="MAPNET_SECURE_COOKIES")
    # HTTPS served by the portal itself (the region's certificate and key, PEM), as the NATS
    # servers of `mapnet up` use them; behind a proxy that terminates TLS, leave them unset.
    tls_cert: str | None = Field(default=None, validation_alias="MAPNET_TLS_CERT")
    tls_key: str | None = Field(default=None, validation_alias="MAPNET_TLS_KEY")
    # Behind a reverse proxy: the proxies' addresses (comma-separated IPs or networks, or "*")
    # whose X-Forwarded-For / X-Forwarded-Proto the portal believes, so that sign-in throttling
    # counts each person's address, not the proxy's. Unset: those headers are ignored (anyone
    # could write them), and the address is the connection's.
    forwarded_allow_ips: str | None = Field(
        default=None, validation_alias="MAPNET_FORWARDED_ALLOW_IPS"
    )
    # The network's regions and their countries (default deploy/regions.toml): the guide's
    # markets are listed network first, and a partner's region names the market whose guide a
    # partner search links to.
    regions_file: Path | None = Field(default=None, validation_alias="MAPNET_REGIONS_FILE")

    @property
    def https(self) -> bool:
        return bool(self.tls_cert and self.tls_key)
