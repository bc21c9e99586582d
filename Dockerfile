FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    INFLUBOT_DB=/data/influbot.db

RUN useradd --create-home --uid 10001 influbot \
    && mkdir /data && chown influbot /data

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY intents ./intents
COPY knowledge ./knowledge
COPY referrals ./referrals
RUN pip install --no-cache-dir .

USER 10001
# Train the models at build time: the container starts in under a second.
RUN influbot train
VOLUME ["/data"]
CMD ["influbot", "run"]
