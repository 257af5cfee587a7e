import logging
from typing import Any

from django.apps import AppConfig
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest

logger = logging.getLogger(__name__)


def log_failed_login(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """One WARNING line per failed login: the username and where from, never the password."""
    from azureproject.client_ip import client_ip

    where = client_ip(request) if request is not None else "no request"
    logger.warning("Failed login for username %r from %s", credentials.get("username"), where)
    if request is not None and not getattr(request, "axes_locked_out", False):
        from azureproject.serving.login_throttle import record_failure

        record_failure(request)


class AzureProjectConfig(AppConfig):
    """The project package as an app, for its management commands, the login log and the
    quicker drawing of CSRF secrets."""

    name = "azureproject"
    verbose_name = "Azure glue"

    def ready(self) -> None:
        from azureproject.serving import csrf

        user_login_failed.connect(log_failed_login, dispatch_uid="azureproject.failed_login")
        csrf.install()
