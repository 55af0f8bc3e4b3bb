# One image for every MAPnet service; the container's command picks the service.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY contracts contracts
COPY mapnet mapnet
COPY services services
RUN pip install --no-cache-dir .
USER nobody
ENTRYPOINT ["mapnet"]
CMD ["serve", "all"]
