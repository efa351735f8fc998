"""Settings section ``settings.admin`` (environment ``ADMIN__<FIELD>``)."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, model_validator


class AdminSettings(BaseModel):
    """Operators' log group, broadcast pacing and how long admin data is kept."""

    # The operators' forum/supergroup that receives signed, encrypted audit records.
    log_chat_id: int | None = None
    # The operators' armored OpenPGP public key the audit records are encrypted to.
    operator_key: SecretStr | None = None
    # Edit the progress message after this many recipients (and at most once a second).
    progress_every: int = Field(default=50, ge=1)
    # A broadcast's worker holds it for this long, renewed every third of it: another instance
    # takes over this long after the holder died.
    broadcast_lease_seconds: float = Field(default=60.0, ge=3, le=600)
    # How long audit events and broadcast delivery state are kept (hours, at most 24).
    retention_hours: float = Field(default=24.0, gt=0, le=24)
    # Days shown in the stats chart.
    chart_days: int = Field(default=30, ge=2, le=90)
    # Payments listed per page.
    page_size: int = Field(default=5, ge=1, le=20)

    @model_validator(mode="after")
    def _log_group_needs_key(self) -> AdminSettings:
        if self.log_chat_id is not None and self.operator_key is None:
            raise ValueError(
                "ADMIN__LOG_CHAT_ID needs ADMIN__OPERATOR_KEY (the operators' public key)"
            )
        return self
