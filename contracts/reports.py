"""Reports service: the SMEs' feedback, each region's monthly figures, monitoring and cluster
reports."""

from __future__ import annotations
