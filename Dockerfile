# Libral bot image: slim Python, GnuPG for the gnupg engine and .env.gpg, Noto Sans CJK for the
# admin chart's Japanese labels, non-root.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends gnupg ca-certificates fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 libral
WORKDIR /app

COPY pyproject.toml README.md alembic.ini ./
COPY requirements/app.lock ./requirements/
# The locked versions first (a layer that changes only with the lockfile), then the project.
RUN pip install -r requirements/app.lock
COPY bot ./bot
COPY handlers ./handlers
COPY middlewares ./middlewares
COPY services ./services
COPY keyboards ./keyboards
COPY migrations ./migrations
# Fluent catalogues are read as they are: there is nothing to compile (see README, "Libraries").
COPY locales ./locales
RUN pip install --no-deps -e . \
    && mkdir -p /app/data \
    && chown -R libral:libral /app/data

USER libral
# matplotlib's font list, built once here (and the build fails if the CJK font is not found).
RUN python -c "from matplotlib import font_manager as f; f.findfont(f.FontProperties(family='Noto Sans CJK JP'), fallback_to_default=False)"
ENV HTTP_HOST=0.0.0.0 HTTP_PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"
CMD ["python", "-m", "bot"]
