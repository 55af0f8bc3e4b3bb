# One image for every MAPnet service; the container's command picks the service.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY contracts contracts
COPY mapnet mapnet
COPY services services
# The network's regions and their countries: the guide's home markets and the facts card read it.
COPY deploy/regions.toml deploy/regions.toml
ENV MAPNET_REGIONS_FILE=/app/deploy/regions.toml
RUN pip install --no-cache-dir .
USER nobody
ENTRYPOINT ["mapnet"]
CMD ["serve", "all"]
