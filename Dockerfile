# Build stage: install tgpipe and its dependencies into a virtual environment.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cli ./cli
COPY config ./config
COPY migrations ./migrations
COPY pipeline ./pipeline
RUN /opt/venv/bin/pip install .

# Runtime stage: the virtual environment only, run by an unprivileged user.
FROM python:3.11-slim
# Noto CJK: charts name Chinese, Japanese and Korean channels and posts in their own script
# (matplotlib's bundled font draws Latin, Cyrillic and Greek only).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 tgpipe \
    && mkdir /data \
    && chown tgpipe:tgpipe /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TGPIPE_DATABASE_URL=sqlite:////data/tgpipe.db
WORKDIR /data
# No VOLUME here: it would give every container an anonymous volume, also those that keep
# their store in PostgreSQL. For the SQLite default, mount one: -v tgpipe-data:/data.
USER tgpipe
STOPSIGNAL SIGTERM
CMD ["tgpipe", "run"]
