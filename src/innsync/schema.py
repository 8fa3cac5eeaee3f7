"""Every table innsync has, gathered for migrations and schema checks."""

from innsync.alerts import models as _alerts  # noqa: F401  (registers tables)
from innsync.backups import models as _backups  # noqa: F401
from innsync.connections import credentials as _credentials  # noqa: F401
from innsync.connections import models as _connections  # noqa: F401
from innsync.connections import oauth as _oauth  # noqa: F401
from innsync.db.base import Base
from innsync.events import models as _events  # noqa: F401
from innsync.ical_export import models as _ical_export  # noqa: F401
from innsync.inbox import models as _inbox  # noqa: F401
from innsync.inventory import models as _inventory  # noqa: F401
from innsync.marketplace import models as _marketplace  # noqa: F401
from innsync.outbox import models as _outbox  # noqa: F401
from innsync.properties import models as _properties  # noqa: F401
from innsync.reservations import models as _reservations  # noqa: F401
from innsync.sync import models as _sync  # noqa: F401
from innsync.tenants import models as _tenants  # noqa: F401

metadata = Base.metadata
