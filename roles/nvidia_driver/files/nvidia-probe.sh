#!/bin/sh
# Read-only probe of everything nvidia_driver decides on, in one round trip (each task costs seconds).
# Usage: nvidia-probe.sh KERNEL_PACKAGE FACT_FILE EFIVAR. Prints one JSON object.
kpkg=$1 fact=$2 efivar=$3
pci=""
for d in /sys/bus/pci/devices/*; do
  [ -r "$d/vendor" ] && pci="$pci\"$(cat "$d/vendor") $(cat "$d/device") $(cat "$d/class")\","
done
nvswitches=$(ls /proc/driver/nvidia-nvswitch/devices 2>/dev/null | wc -l)
recorded=$(cat "$fact" 2>/dev/null || echo '{}')
version_before=$(dpkg-query -W -f='${Version}' "$kpkg" 2>/dev/null | sed 's/-[^-]*$//')
if command -v mokutil >/dev/null 2>&1 && [ -e "$efivar" ]; then
  secureboot=$(mokutil --sb-state 2>&1 | grep -q 'SecureBoot enabled' && echo true || echo false)
elif [ -e "$efivar" ]; then
  # Last byte of the EFI variable: 1 means Secure Boot is enforcing.
  secureboot=$(od -An -tu1 "$efivar" | awk '{v=$NF} END {print (v == 1) ? "true" : "false"}')
else
  secureboot=false
fi
kernel=$(uname -r)
headers=$(apt-cache policy "linux-headers-$kernel" 2>/dev/null | grep -q 'Candidate: [^(]' && echo true || echo false)
initramfs=$(command -v update-initramfs >/dev/null 2>&1 && echo true || echo false)
loaded=$(cat /sys/module/nvidia/version 2>/dev/null || true)
cat <<JSON
{"pci": [${pci%,}], "nvswitch_proc": $nvswitches, "recorded": $recorded,
 "version_before": "$version_before", "secureboot": $secureboot, "kernel": "$kernel",
 "headers_available": $headers, "initramfs": $initramfs, "loaded_version": "$loaded"}
JSON
