import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun, worker_init

from integrations import structured_logs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("relay")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _serve_worker_metrics(**kwargs):
    from integrations.metrics import worker_metrics_serve

    worker_metrics_serve()


# Each task's lines carry its name, id and the id of the request that published it.
before_task_publish.connect(structured_logs.task_context_publish, weak=False)
task_prerun.connect(structured_logs.task_context_start, weak=False)
task_postrun.connect(structured_logs.task_context_end, weak=False)
