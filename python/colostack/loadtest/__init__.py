"""`colostack loadtest`: OpenAI-compatible load against the gateway, with SLO verdicts."""
