# One image for the web process and the Celery worker (compose runs both from it).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# WeasyPrint needs pango and fonts; libmagic identifies uploads; qpdf checks packets.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
      fonts-liberation libmagic1 shared-mime-info qpdf \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 portal
WORKDIR /app

COPY pyproject.toml requirements.lock README.md ./
COPY portal ./portal
COPY referrals ./referrals
COPY eligibility ./eligibility
RUN pip install --no-cache-dir -c requirements.lock .

COPY manage.py ./
COPY templates ./templates
COPY static ./static
# collectstatic needs settings that load; these values exist only for this build step.
RUN DEBUG=0 SECRET_KEY=build-only-build-only-build-only-build-only ALLOWED_HOSTS=build \
    VAR_DIR=/app/var python manage.py collectstatic --noinput \
 && mkdir -p /data/media && chown -R portal:portal /data /app/var

USER portal
ENV VAR_DIR=/app/var MEDIA_ROOT=/data/media
EXPOSE 8000
CMD ["gunicorn", "-c", "portal/gunicorn_conf.py", "portal.wsgi:application"]
