# intentgate: multi-stage build on a slim base, non-root, Numba cache compiled at build time.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY proxy ./proxy
COPY classifiers ./classifiers
COPY signals ./signals
COPY explain ./explain
RUN python -m venv /opt/intentgate \
 && /opt/intentgate/bin/pip install . \
 && mkdir -p /opt/intentgate/numba-cache \
 && NUMBA_CACHE_DIR=/opt/intentgate/numba-cache /opt/intentgate/bin/python -m proxy.commands.warmup

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/intentgate --create-home intentgate
COPY --from=build /opt/intentgate /opt/intentgate
ENV PATH=/opt/intentgate/bin:$PATH \
    NUMBA_CACHE_DIR=/opt/intentgate/numba-cache \
    INTENTGATE_HOST=0.0.0.0 \
    INTENTGATE_PORT=8080 \
    INTENTGATE_DATA_DIR=/var/lib/intentgate
USER intentgate
WORKDIR /var/lib/intentgate
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=2s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/_intentgate/health', timeout=2).status == 200 else 1)"
# Configure with INTENTGATE_* variables (INTENTGATE_UPSTREAM is required).
CMD ["intentgate", "serve"]
