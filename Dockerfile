# syntax=docker/dockerfile:1
# Multi-stage: build a wheel with its dependencies, then a slim non-root runtime.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY controller ./controller
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN groupadd --gid 10001 stackery && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin stackery
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001:10001
EXPOSE 8080 8081
ENTRYPOINT ["python", "-m", "controller"]
