#!/usr/bin/env bash
# Prints the path of an aws CLI v2 >= 2.15, installing one when none is found.
#
# AWS ships v2 only from its own site, which a build machine may not reach,
# and Debian 12's `awscli` is 2.9.19 (before AWS_ENDPOINT_URL and Pod
# Identity). Debian 13 packages AWS's v2 source unchanged, as pure Python: the
# pinned .deb is unpacked into a private virtualenv with the dependencies its
# metadata names, from PyPI. Nothing outside the install directory changes.
#
#   bash scripts/awscli-v2.sh            # prints …/aws-cli-v2/bin/aws
#   PODIAM_AWS_V2_DIR=/opt/aws2 bash scripts/awscli-v2.sh
set -euo pipefail

dir="${PODIAM_AWS_V2_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/podiam/aws-cli-v2}"
deb_url="http://deb.debian.org/debian/pool/main/a/awscli/awscli_2.23.6-1_all.deb"
deb_sha256="09645cccbeece0553786ea7532d28901a9e7375d761fe5676490dbb4e7180569"

# 2.15 added AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, which Pod Identity needs.
is_v2_15() {
    local minor
    minor=$("$1" --version 2>&1 | sed -nE 's|^aws-cli/2\.([0-9]+)\..*|\1|p')
    [ -n "$minor" ] && [ "$minor" -ge 15 ]
}

for c in "${PODIAM_TEST_AWS_V2:-}" "$dir/bin/aws" /usr/local/bin/aws \
    /usr/local/aws-cli/v2/current/bin/aws /usr/bin/aws "$(command -v aws2 || true)"; do
    if [ -n "$c" ] && [ -x "$c" ] && is_v2_15 "$c"; then
        echo "$c"
        exit 0
    fi
done

echo "installing the aws CLI v2 2.23.6 (Debian 13's package) into $dir" >&2
rm -rf "$dir"
mkdir -p "$dir/bin"
curl -fsSL --retry 3 -o "$dir/awscli.deb" "$deb_url"
echo "$deb_sha256  $dir/awscli.deb" | sha256sum -c --quiet -
dpkg-deb -x "$dir/awscli.deb" "$dir/root"
rm "$dir/awscli.deb"
python3 -m venv "$dir/venv"
# The pins of awscli-2.23.6.dist-info/METADATA.
"$dir/venv/bin/pip" install --quiet --disable-pip-version-check \
    'awscrt==0.23.4' 'colorama>=0.2.5,<0.4.7' 'docutils>=0.10,<0.20' \
    'cryptography>=40.0.0' 'ruamel.yaml>=0.15.0,<=0.17.21' \
    'ruamel.yaml.clib>=0.2.0,<=0.2.8' 'prompt-toolkit>=3.0.24,<3.0.39' \
    'distro>=1.5.0,<1.9.0' 'python-dateutil>=2.1,<=2.9.0' \
    'jmespath>=0.7.1,<1.1.0' 'urllib3>=1.25.4,<1.27' 'zipp<3.21.0'
cat > "$dir/bin/aws" <<EOF
#!/bin/sh
PYTHONPATH="$dir/root/usr/lib/python3/dist-packages" exec "$dir/venv/bin/python" "$dir/root/usr/bin/aws" "\$@"
EOF
chmod +x "$dir/bin/aws"
is_v2_15 "$dir/bin/aws" || { echo "the installed aws CLI v2 does not run: $("$dir/bin/aws" --version 2>&1)" >&2; exit 1; }
echo "$dir/bin/aws"
