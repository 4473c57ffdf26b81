FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production

WORKDIR /app
COPY requirements/ requirements/
RUN pip install --no-cache-dir -r requirements/base.txt

COPY . .
# collectstatic needs settings that load; the real values come from the environment at run time.
RUN DJANGO_SECRET_KEY=build-only FIELD_ENCRYPTION_KEYS=$(python -c "import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())") \
    python manage.py collectstatic --noinput

RUN useradd --create-home relay
USER relay
EXPOSE 8000
# The platform logs its own access line per request (docs/logging.md): no gunicorn access log.
CMD ["gunicorn", "config.wsgi", "--config", "config/gunicorn.py", "--bind", "0.0.0.0:8000", "--workers", "2", "--worker-class", "gthread", "--threads", "16", "--no-control-socket"]
