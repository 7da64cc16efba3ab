#!/usr/bin/python
"""Host side of colostack_rollout_state: read the state file, or replace it atomically."""

from __future__ import annotations

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: colostack_rollout_state
short_description: Read or atomically write a colostack rollout state file on the host
description:
  - Used through the colostack_rollout_state action, which parses and checks the content on the
    controller. Writes go to a temporary file that is fsynced and renamed over the old one.
options:
  op:
    description: read or write.
    type: str
    choices: [read, write]
    required: true
  path:
    description: Absolute path of the state file.
    type: path
    required: true
  content:
    description: New content (write only).
    type: str
author: colostack
"""


# The same steps as colostack.fsutil.atomic_write_text: modules run on hosts without colostack.
def write(path: str, content: str) -> None:
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".state.", dir=folder)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dirfd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)


def main() -> None:
    module = AnsibleModule(
        argument_spec={"op": {"type": "str", "required": True, "choices": ["read", "write"]},
                       "path": {"type": "path", "required": True},
                       "content": {"type": "str"}},
        supports_check_mode=True,
    )
    path = module.params["path"]
    if module.params["op"] == "read":
        if not os.path.exists(path):
            module.exit_json(changed=False, exists=False, content="")
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                module.exit_json(changed=False, exists=True, content=handle.read())
        except OSError as exc:
            module.fail_json(msg=f"cannot read {path}: {exc.strerror}")
    if module.check_mode:
        module.exit_json(changed=True)
    try:
        write(path, module.params["content"] or "")
    except OSError as exc:
        module.fail_json(msg=f"cannot write {path}: {exc.strerror}; the previous state is intact")
    module.exit_json(changed=True)


if __name__ == "__main__":
    main()
