#!/bin/bash
# STAND-IN vLLM (tests/fixtures/vllm_standin): the API key from a secret, as VLLM_API_KEY.
set -euo pipefail
[ -s /run/secrets/vllm_api_key ] || { echo "vllm: secret vllm_api_key is missing or empty" >&2; exit 1; }
VLLM_API_KEY=$(cat /run/secrets/vllm_api_key)
export VLLM_API_KEY
exec setpriv --reuid=nobody --regid=nogroup --clear-groups \
  python3 -m vllm_standin.server serve "${VLLM_MODEL:?}" --served-model-name "${VLLM_SERVED_MODEL_NAME:?}" \
  --host 0.0.0.0 --port 8000
