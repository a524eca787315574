"""Azure SDK errors translated into the domain's, in one place for every storage adapter."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from shared.errors import DependencyUnavailable
from shared.ports import AlreadyExists, StaleWrite

log = logging.getLogger(__name__)


@contextmanager
def storage_errors(what: str) -> Iterator[None]:
    """Precondition failures become StaleWrite; anything else a caller cannot fix becomes 503."""
    try:
        yield
    except ResourceModifiedError as error:
        raise StaleWrite(what) from error
    except ResourceExistsError as error:
        raise AlreadyExists(what) from error
    except ResourceNotFoundError:
        raise
    except HttpResponseError as error:
        if error.status_code == 412:
            raise StaleWrite(what) from error
        log.warning("storage refused %s: %s", what, error.message)
        raise DependencyUnavailable(
            f"Storage is not available right now ({what}): try again shortly",
            code="StorageUnavailable",
        ) from error
    except (ServiceRequestError, ServiceResponseError, AzureError, OSError) as error:
        log.warning("storage unreachable during %s: %s", what, error)
        raise DependencyUnavailable(
            f"Storage is not reachable right now ({what}): try again shortly",
            code="StorageUnavailable",
        ) from error
