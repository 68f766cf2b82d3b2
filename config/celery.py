"""The Celery application; tasks are discovered in each app's tasks.py."""

import os

from celery import Celery
from kombu import transport

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

# redis:// and rediss:// brokers use kombu's Redis transport with the fix in config/broker.py (a worker
# survives Redis going away while it holds unacknowledged tasks).
for _scheme in ("redis", "rediss"):
    transport.TRANSPORT_ALIASES[_scheme] = "config.broker:Transport"
    transport._transport_cache.pop(_scheme, None)

app = Celery("yibao")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
