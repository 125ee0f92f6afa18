# rujuk's server image. Build: docker build -t rujuk .   Run: see docs/deployment.md.
# Stage 1 builds the self-hosted console (web/console) with node; stage 2 installs the
# package with its runtime dependencies only and runs as an unprivileged user.

FROM node:22-bookworm-slim AS console
WORKDIR /build
COPY web/console/package.json web/console/package-lock.json web/console/
RUN cd web/console && npm ci --no-audit --no-fund --loglevel=error
COPY web/console web/console
# Vite writes into the Python package's static folder (web/console/vite.config.js).
RUN mkdir -p src/rujuk/console \
    && cd web/console && npm run --silent build \
    && find /build/src/rujuk/console/static -type f \( -name '*.js' -o -name '*.css' \) \
        -exec gzip -9 -k -f {} +

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RUJUK_DATA_DIR=/var/lib/rujuk
RUN useradd --system --uid 10001 --home-dir /var/lib/rujuk --create-home \
        --shell /usr/sbin/nologin rujuk
WORKDIR /tmp/rujuk
COPY pyproject.toml README.md ./
COPY src ./src
COPY --from=console /build/src/rujuk/console/static ./src/rujuk/console/static
RUN pip install . && cd / && rm -rf /tmp/rujuk
USER rujuk
WORKDIR /var/lib/rujuk
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["rujuk", "serve", "--host", "0.0.0.0", "--port", "8000"]
