# The dovetail sidecar image for argocd-repo-server (see deploy/).
#   docker build -t registry.example.com/platform/dovetail:0.1.0 .
# It holds the dovetail, dovetail-fetch (its git helper, beside it) and
# dovetail-controller binaries and CA certificates. Argo CD's
# cmp-server, its entrypoint, arrives at run time through the var-files volume
# (deploy/sidecar.yaml); deploy/controller/ runs the same image as dovetail-controller.
FROM rust:1.95-bookworm AS build
WORKDIR /src
# valgrind lets build-dist lay out the functions a render runs together; installed before
# the sources are copied, so that a change of theirs does not install it again.
RUN apt-get update \
 && apt-get install -y --no-install-recommends valgrind \
 && rm -rf /var/lib/apt/lists/*
COPY . .
# build-dist: dovetail linked statically, dovetail-fetch and dovetail-controller dynamically.
RUN ./build-dist /out

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 999 argocd \
 && useradd --uid 999 --gid 999 --home-dir /home/argocd --create-home --shell /usr/sbin/nologin argocd
COPY --from=build /out/dovetail /out/dovetail-fetch /out/dovetail-controller /usr/local/bin/
USER 999:999
WORKDIR /home/argocd
ENV HOME=/home/argocd
ENTRYPOINT ["/var/run/argocd/argocd-cmp-server"]
