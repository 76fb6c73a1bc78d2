#!/usr/bin/env bash
# Install the field's command-line tools that the tests compare omicsgen with (Debian packages):
# bcftools and tabix (synthetic VCFs, VCF benchmark), samtools, plink1.9 and plink2 (synthetic VCF
# import, PLINK filesets made from a VCF), beagle (Beagle 5, for phase: beagle).
# Runs only as root on a Debian/Ubuntu machine and only when a tool is missing; elsewhere it
# says which tests will be skipped and exits 0.
set -euo pipefail
missing=()
for tool in bcftools tabix samtools plink1.9 plink2 beagle; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "note: ${missing[*]} not installed (needs root and apt-get); tests that compare with them are skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends bcftools tabix samtools plink1.9 plink2 beagle >/dev/null
