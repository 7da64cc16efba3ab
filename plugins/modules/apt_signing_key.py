#!/usr/bin/python
"""Download an apt repository's signing key and keep it only when its fingerprint is the pinned one."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import fetch_url

DOCUMENTATION = r"""
module: apt_signing_key
short_description: Install an apt signing key only if its fingerprint matches a pin
description:
  - Downloads the OpenPGP key file at I(url), reads the fingerprint of every primary key in it
    (armored or binary; key versions 4, 5 and 6), and writes it to I(dest) only when they are
    exactly I(fingerprint). Any other key, or an extra one, is refused before anything is written,
    and the message names I(fingerprint_variable). Point C(signed_by) of the repository at I(dest).
options:
  url:
    description: Where the repository publishes its key.
    type: str
    required: true
  dest:
    description: Keyring file to write; C(.asc) for an armored key, C(.gpg) for a binary one.
    type: path
    required: true
  fingerprint:
    description: The pinned primary key fingerprint, hex; spaces are ignored, case is not significant.
    type: str
    required: true
  fingerprint_variable:
    description: Name of the variable that holds the pin, for the refusal message.
    type: str
    default: fingerprint
author: colostack
"""

EXAMPLES = r"""
- name: Install NVIDIA's CUDA repository key, pinned
  colostack.infra.apt_signing_key:
    url: "{{ nvidia_driver_cuda_repo_key_url }}"
    dest: /etc/apt/keyrings/nvidia-cuda.asc
    fingerprint: "{{ nvidia_driver_cuda_repo_key_fingerprint }}"
    fingerprint_variable: nvidia_driver_cuda_repo_key_fingerprint
"""

RETURN = r"""
fingerprints:
  description: Fingerprints of the primary keys found in the downloaded file.
  type: list
  elements: str
  returned: always
"""

_ARMOR = re.compile(rb"-----BEGIN PGP PUBLIC KEY BLOCK-----\r?\n(.*?)-----END PGP PUBLIC KEY BLOCK-----", re.DOTALL)
_PRIMARY_KEY = 6
_PREFIX = {4: (b"\x99", 2, hashlib.sha1), 5: (b"\x9a", 4, hashlib.sha256), 6: (b"\x9b", 4, hashlib.sha256)}


def dearmor(data: bytes) -> bytes | None:
    """The binary packets of every armored block, or None when the data is not armored."""
    blocks = _ARMOR.findall(data)
    if not blocks:
        return None
    out = b""
    for block in blocks:
        # Armor headers end at the first blank line; the CRC line starts with "=".
        body = block.split(b"\n\n", 1)[1] if b"\n\n" in block.replace(b"\r\n", b"\n") else block
        lines = [ln.strip() for ln in body.replace(b"\r\n", b"\n").splitlines()]
        out += base64.b64decode(b"".join(ln for ln in lines if ln and not ln.startswith(b"=")))
    return out


def packets(data: bytes) -> list[tuple[int, bytes]]:
    """(tag, body) of each OpenPGP packet, old and new header formats (RFC 9580 section 4.2)."""
    result, i = [], 0
    while i < len(data):
        first = data[i]
        if not first & 0x80:
            raise ValueError(f"not an OpenPGP packet at byte {i}")
        if first & 0x40:  # new format
            tag, o = first & 0x3F, data[i + 1]
            if o < 192:
                length, i = o, i + 2
            elif o < 224:
                length, i = ((o - 192) << 8) + data[i + 2] + 192, i + 3
            elif o == 255:
                length, i = int.from_bytes(data[i + 2:i + 6], "big"), i + 6
            else:
                raise ValueError("partial body lengths do not occur in key files")
        else:  # old format
            tag, size = (first >> 2) & 0x0F, (1, 2, 4)[first & 0x03] if first & 0x03 != 3 else 0
            if size == 0:
                raise ValueError("indeterminate packet lengths do not occur in key files")
            length, i = int.from_bytes(data[i + 1:i + 1 + size], "big"), i + 1 + size
        if i + length > len(data):
            raise ValueError("truncated packet")
        result.append((tag, data[i:i + length]))
        i += length
    return result


def fingerprints(data: bytes) -> list[str]:
    """Fingerprints of the primary public keys in a key file."""
    binary = dearmor(data)
    found = []
    for tag, body in packets(data if binary is None else binary):
        if tag != _PRIMARY_KEY:
            continue
        if not body or body[0] not in _PREFIX:
            raise ValueError(f"unsupported key version {body[:1].hex() or 'none'}")
        prefix, size, digest = _PREFIX[body[0]]
        found.append(digest(prefix + len(body).to_bytes(size, "big") + body).hexdigest().upper())
    return found


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "url": {"type": "str", "required": True},
            "dest": {"type": "path", "required": True},
            "fingerprint": {"type": "str", "required": True},
            "fingerprint_variable": {"type": "str", "default": "fingerprint"},
        },
        supports_check_mode=True,
    )
    url, dest, var = module.params["url"], module.params["dest"], module.params["fingerprint_variable"]
    pin = re.sub(r"\s", "", module.params["fingerprint"]).upper()
    if not re.fullmatch(r"[0-9A-F]{40}|[0-9A-F]{64}", pin):
        module.fail_json(msg=f"{var} must be a key fingerprint of 40 or 64 hex digits, got '{module.params['fingerprint']}'")
    response, info = fetch_url(module, url)
    if info["status"] != 200 or response is None:
        module.fail_json(msg=f"could not download the signing key {url}: {info.get('msg', info['status'])}")
    data = response.read()
    try:
        found = fingerprints(data)
    except (ValueError, IndexError, base64.binascii.Error) as exc:
        module.fail_json(msg=f"{url} is not an OpenPGP key file ({exc}); refusing it")
    if found != [pin]:
        module.fail_json(msg=f"the key at {url} has fingerprint {', '.join(found) or 'none'}, but {var} pins "
                             f"{pin}: refusing to trust it", fingerprints=found)
    armored = dearmor(data) is not None
    if dest.endswith(".asc") != armored:
        module.fail_json(msg=f"{dest}: name an armored key .asc and a binary key .gpg (the key at {url} is "
                             f"{'armored' if armored else 'binary'})", fingerprints=found)
    try:
        with open(dest, "rb") as handle:
            changed = handle.read() != data
    except FileNotFoundError:
        changed = True
    if changed and not module.check_mode:
        folder = os.path.dirname(dest)
        os.makedirs(folder, mode=0o755, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".key.", dir=folder)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    module.exit_json(changed=changed, fingerprints=found)


if __name__ == "__main__":
    main()
