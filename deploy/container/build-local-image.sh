#!/usr/bin/env bash
# Assembles a container image from the local build, for machines without registry access:
# FROM scratch, the terrain binary plus every shared library `ldd` lists (the Swift runtime,
# libzmq, OpenBLAS, HDF5, glibc and the dynamic loader) at their own paths. podman loads it
# directly (`podman build`); for a cluster's registry, `podman push` it from there.
#
#   deploy/container/build-local-image.sh [BINARY] [TAG]
#     BINARY  default .build/release/terrain        TAG  default localhost/terrain:local
#
# The image runs as uid 10001 with OPENBLAS_NUM_THREADS=1; /work is its working directory
# (mount the dataset's volume there) and /tmp is writable.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
binary=${1:-$here/../../.build/release/terrain}
tag=${2:-localhost/terrain:local}
[[ -x $binary ]] || { echo "build-local-image: no binary at $binary (swift build -c release first)" >&2; exit 1; }
command -v podman >/dev/null || { echo "build-local-image: podman is not installed" >&2; exit 1; }
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
root=$context/root
mkdir -p "$root/usr/local/bin" "$root/etc" "$root/work" "$root/tmp"
chmod 1777 "$root/tmp"
chown 10001:10001 "$root/work"
cp "$binary" "$root/usr/local/bin/terrain"
# Libraries at the paths the binary looks for them (its RUNPATH names the Swift runtime's).
ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
# Name lookups (a Kubernetes Service name, a SLURM node): glibc's resolver reads these.
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
printf 'root:x:0:0::/:/bin/false\nterrain:x:10001:10001::/work:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nterrain:x:10001:\n' >"$root/etc/group"
cat >"$context/Containerfile" <<IMAGE
FROM scratch
COPY root/ /
ENV OPENBLAS_NUM_THREADS=1 PATH=/usr/local/bin
USER 10001
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/terrain"]
CMD ["--help"]
IMAGE
podman build --quiet -t "$tag" "$context" >/dev/null
size=$(podman image inspect "$tag" --format '{{.Size}}')
echo "built $tag ($((size / 1000000)) MB) from $binary"
